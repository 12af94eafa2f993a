//! The HAProxy version ha-compat answers as, and HAProxy's version comparison
//! (`split_version()` / `compare_current_version()` in src/haproxy.c).

/// The HAProxy release whose configuration language and messages we reproduce.
pub const HAPROXY_COMPAT_VERSION: &str = "2.6.12";

/// `haproxy -vv`'s feature list as ha-compat can honour it: what the Debian 2.6.12 build
/// says, except the features ha-compat does not implement (Lua, OpenTracing, PCRE, which
/// `.if feature(...)` blocks must then skip).
pub const FEATURES: &str = "-51DEGREES +ACCEPT4 -BACKTRACE -CLOSEFROM -CPU_AFFINITY -CRYPT_H -DEVICEATLAS -DL -ENGINE +EPOLL -EVPORTS +GETADDRINFO -KQUEUE -LIBCRYPT +LINUX_SPLICE -LINUX_TPROXY -LUA -MEMORY_PROFILING -NETFILTER -NS -OBSOLETE_LINKER +OPENSSL -OT -PCRE -PCRE2 -PCRE2_JIT -PCRE_JIT +POLL -PRCTL -PROCCTL +PROMEX -QUIC +RT -SLZ -STATIC_PCRE -STATIC_PCRE2 +SYSTEMD -TFO +THREAD -THREAD_DUMP -TPROXY -WURFL -ZLIB";

const ELTS: usize = 7;

/// `split_version()`: `<a>[.<b>[.<c>[.<d>]]][-{dev,pre,rc}<f>][-*][-<g>]` into 7 numbers.
pub fn split_version(version: &str) -> Option<[u64; ELTS]> {
    let mut v = [0u64, 0, 0, 0, 3, 0, 0];
    let s = version.as_bytes();
    if s.is_empty() {
        return None;
    }
    let mut p = 0usize;
    let mut tag_at = None;
    for slot in 0..4 {
        let (n, end) = strtol10(s, p);
        v[slot] = n;
        match s.get(end) {
            None => return Some(v),
            Some(b'-') => {
                tag_at = Some(end + 1);
                break;
            }
            Some(b'.') if slot < 3 => p = end + 1,
            _ => return None,
        }
    }
    let mut p = tag_at?;
    if !s.get(p).is_some_and(u8::is_ascii_digit) {
        let rest = &s[p..];
        let tag = if rest.starts_with(b"dev") {
            Some((1, 3))
        } else if rest.starts_with(b"rc") {
            Some((2, 2))
        } else if rest.starts_with(b"pre") {
            Some((2, 3))
        } else {
            None
        };
        if let Some((value, len)) = tag {
            v[4] = value;
            p += len;
            let (n, end) = strtol10(s, p);
            v[5] = n;
            match s.get(end) {
                None => return Some(v),
                Some(b'-') => p = end + 1,
                _ => return None,
            }
        }
    }
    let commit = &s[p.min(s.len())..];
    let last = match commit.iter().rposition(|&c| c == b'-') {
        Some(i) => {
            if i + 1 == commit.len() {
                return None;
            }
            &commit[i + 1..]
        }
        None => commit,
    };
    let (n, end) = strtol10(last, 0);
    v[6] = if end == last.len() { n } else { 0 };
    Some(v)
}

fn strtol10(s: &[u8], from: usize) -> (u64, usize) {
    let mut i = from;
    let mut n: u64 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
        i += 1;
    }
    (n, i)
}

/// -1: `version` is older than ours, 0: same, 1: newer, -3: unparsable.
pub fn compare_current(version: &str) -> i32 {
    let Some(ours) = split_version(HAPROXY_COMPAT_VERSION) else {
        return -2;
    };
    let Some(theirs) = split_version(version) else {
        return -3;
    };
    for i in 0..ELTS {
        if theirs[i] < ours[i] {
            return -1;
        }
        if theirs[i] > ours[i] {
            return 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_examples() {
        assert_eq!(split_version("1.2.1-pre2"), Some([1, 2, 1, 0, 2, 2, 0]));
        assert_eq!(split_version("1.2.10.1"), Some([1, 2, 10, 1, 3, 0, 0]));
        assert_eq!(split_version("1.5-dev18-43"), Some([1, 5, 0, 0, 1, 18, 43]));
        assert_eq!(
            split_version("2.4-dev18-f6818d-20"),
            Some([2, 4, 0, 0, 1, 18, 20])
        );
        assert_eq!(
            split_version("2.6.12-1+deb12u4"),
            Some([2, 6, 12, 0, 3, 0, 0])
        );
        assert_eq!(split_version("x"), None);
    }

    #[test]
    fn comparisons() {
        assert_eq!(compare_current("2.6"), -1);
        assert_eq!(compare_current("2.6.12"), 0);
        assert_eq!(compare_current("2.7"), 1);
        assert_eq!(compare_current("2.6.12-dev1"), -1);
    }
}
