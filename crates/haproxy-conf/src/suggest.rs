//! HAProxy's "did you mean 'X' maybe ?" hints: `make_word_fingerprint()` (counts of
//! character-class transitions) and `word_fingerprint_distance()` from src/tools.c, and
//! `cfg_find_best_match()`'s rule that the first strictly closer candidate wins and that a
//! candidate more than twice as far as either word is long is no hint at all.

/// A word's transition counts, indexed `32 * from + to`.
struct Fingerprint([u8; 1024]);

fn fingerprint(word: &str) -> Fingerprint {
    let mut fp = Fingerprint([0u8; 1024]);
    update_fingerprint(&mut fp, word);
    fp
}

/// `update_word_fingerprint()`: adds `word`'s transitions to `fp` (several words of a
/// CLI command share one fingerprint).
fn update_fingerprint(fp: &mut Fingerprint, word: &str) {
    let fp = &mut fp.0;
    let mut from = 28usize;
    for &b in word.as_bytes() {
        let c = b.to_ascii_lowercase();
        let to = match c {
            b'a'..=b'z' => usize::from(c - b'a') + 1,
            b'0'..=b'9' => 27,
            _ => 28,
        };
        fp[to] = 1;
        fp[32 * from + to] = fp[32 * from + to].wrapping_add(1);
        from = to;
    }
    let to = 28;
    fp[32 * from + to] = fp[32 * from + to].wrapping_add(1);
}

/// The distance between two word lists, each fingerprinted as one
/// (`update_word_fingerprint()` over the words, then `word_fingerprint_distance()`):
/// what the CLI uses to propose commands close to an unknown one.
pub fn words_distance(a: &[&str], b: &[&str]) -> usize {
    let mut fa = Fingerprint([0u8; 1024]);
    for w in a {
        update_fingerprint(&mut fa, w);
    }
    let mut fb = Fingerprint([0u8; 1024]);
    for w in b {
        update_fingerprint(&mut fb, w);
    }
    distance(&fa, &fb)
}

fn distance(a: &Fingerprint, b: &Fingerprint) -> usize {
    a.0.iter()
        .zip(b.0.iter())
        .map(|(x, y)| usize::from(x.abs_diff(*y)))
        .sum()
}

/// The closest candidate to `word`, in candidate order (ties keep the first), or `None`
/// when even the best is too far.
pub fn best_match<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let target = fingerprint(word);
    let mut best: Option<(&'a str, usize)> = None;
    for candidate in candidates {
        let d = distance(&target, &fingerprint(candidate));
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((candidate, d));
        }
    }
    let (candidate, d) = best?;
    if d > 2 * word.len() || d > 2 * candidate.len() {
        return None;
    }
    Some(candidate)
}

/// HAProxy 2.6.12's candidate lists for its hints, in its registration order (read from
/// the running binary: data/did-you-mean.tsv; tests/suggest.rs checks 458 recorded hints).
pub fn haproxy_candidates(list: &str) -> &'static [&'static str] {
    use std::collections::BTreeMap;
    use std::sync::OnceLock;
    static LISTS: OnceLock<BTreeMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    let lists = LISTS.get_or_init(|| {
        let mut rows: Vec<(&'static str, usize, &'static str)> =
            include_str!("../data/did-you-mean.tsv")
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let mut f = l.split('\t');
                    let name = f.next()?;
                    let order = f.next()?.parse().ok()?;
                    let word = f.next()?;
                    Some((name, order, word))
                })
                .collect();
        rows.sort_by_key(|(name, order, _)| (*name, *order));
        let mut map: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
        for (name, _, word) in rows {
            map.entry(name).or_default().push(word);
        }
        map
    });
    lists.get(list).map(Vec::as_slice).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_words_are_found() {
        let list = ["default_backend", "use_backend", "balance", "bind"];
        assert_eq!(best_match("defualt_backend", list), Some("default_backend"));
        assert_eq!(best_match("bnid", list), Some("bind"));
        assert_eq!(best_match("zzzzzzzzzzzzzzzz", list), None);
    }
}
