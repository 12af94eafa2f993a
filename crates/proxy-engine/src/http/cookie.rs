//! `cookie NAME insert [indirect] [nocache] [postonly] [httponly] [secure] [domain D]...
//! [attr A]...`: server persistence by a cookie HAProxy inserts, as haproxy 2.6.12 runs it.
//!
//! Pure: the runtime hands the request head (before it goes to the server) and gets the
//! server the cookie names, then hands the response head and gets the `Set-Cookie` and
//! `Cache-control: private` lines added. Ported from src/http_ana.c:
//! - `http_manage_client_side_cookies()`: every `Cookie` line is scanned byte by byte,
//!   spaces around `=` are stripped (from every cookie, as HAProxy does), the first
//!   server whose `cookie` value matches and which is not stopped is used (`V`; `D` when
//!   it is down), an unknown value is `I` (a later occurrence changes nothing); with
//!   `indirect` our
//!   cookie is cut out of the line (`http_del_hdr_value()`), the line removed when
//!   nothing else is left;
//! - `http_process_res_common()` step 6: a session not sent by its cookie (or whose
//!   cookie carried dates) gets `Set-Cookie: NAME=VALUE; path=/` (`I`), with `nocache`
//!   (a `Set-Cookie` of our cookie from the server is removed first: `D`),
//!   plus `Cache-control: private` when the response is cacheable
//!   (`http_check_response_for_cacheability()` on the request method and the status).
//!
//! The same scans take a frontend's `capture cookie NAME len N` (`%CC`: the first
//! request cookie whose `name=value` starts with NAME; `%CS`: the same on the first
//! cookie of each `Set-Cookie` line), with or without persistence.
//!
//! The `rewrite`, `prefix` and passive modes, `preserve`, `maxidle`, `maxlife` and
//! `dynamic` are refused at compile time (they change what the server and the client
//! see, so running without them would be wrong).

use haproxy_conf::model::Proxy;

use super::head::{Headers, RequestHead, ResponseHead};
use crate::ProxyError;

/// A backend's compiled `cookie` line and its servers' `cookie` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePersistence {
    name: String,
    indirect: bool,
    nocache: bool,
    postonly: bool,
    /// `; domain=…; HttpOnly; Secure; <attr>` as appended to every inserted cookie.
    attributes: String,
    /// Server name and its `cookie` value, in configuration order.
    servers: Vec<(String, Option<String>)>,
}

/// What the request's cookie says (`%tsc`'s third character and the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCookie {
    /// `N` none, `V` valid, `D` its server is down, `I` invalid, `U` unused (a second one).
    pub flag: char,
    /// The server to send the request to (`SF_DIRECT`).
    pub server: Option<String>,
    /// The cookie carried a last-seen or first-seen date: HAProxy re-inserts it.
    pub dated: bool,
}

/// A frontend's `capture cookie NAME len N` (`%CC` / `%CS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieCapture {
    /// Compared with the start of `name=value`: a prefix of the cookie's name (or
    /// even of `name=value`) matches, case-sensitively.
    pub prefix: String,
    /// At most this many bytes of `name=value` are kept (already capped to
    /// `tune.http.cookielen` - 1).
    pub len: usize,
}

impl CookieCapture {
    /// The capture of the cookie `v[att_beg..val_end]` (`name=value`, spaces around `=`
    /// already stripped), if it is the one wanted.
    fn take(&self, v: &[u8], att_beg: usize, val_end: usize) -> Option<String> {
        let cookie = v.get(att_beg..val_end)?;
        if !cookie.starts_with(self.prefix.as_bytes()) {
            return None;
        }
        let kept = &cookie[..cookie.len().min(self.len)];
        Some(String::from_utf8_lossy(kept).into_owned())
    }
}

/// What the cookie scan of one message found for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Captured(Option<String>);

impl Captured {
    fn offer(&mut self, capture: Option<&CookieCapture>, v: &[u8], att_beg: usize, val_end: usize) {
        // Only one cookie is captured per message: the first that matches.
        if self.0.is_none() {
            if let Some(capture) = capture {
                self.0 = capture.take(v, att_beg, val_end);
            }
        }
    }
}

fn is_spht(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `http_find_cookie_value_end()`: the end of a value (quotes respected).
fn cookie_value_end(v: &[u8], mut s: usize, e: usize) -> usize {
    let (mut quoted, mut qdpair) = (false, false);
    while s < e {
        let c = v[s];
        if qdpair {
            qdpair = false;
        } else if quoted {
            if c == b'\\' {
                qdpair = true;
            } else if c == b'"' {
                quoted = false;
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == b',' || c == b';' {
            return s;
        }
        s += 1;
    }
    s
}

fn shift(at: usize, delta: isize) -> usize {
    at.saturating_add_signed(delta)
}

/// `http_del_hdr_value()`: removes `v[from..next]` (a cookie and its delimiter) within
/// `v[..end]`; returns where the removal started and the length change.
fn del_hdr_value(v: &mut [u8], end: usize, from: usize, next: usize) -> (usize, isize) {
    let (mut prev, mut next) = (from, next);
    let mut start_at = from;
    if prev == 0 {
        // The first value: eat its semicolon and the spaces after it.
        if next < end {
            next += 1;
        }
        while next < end && is_spht(v[next]) {
            next += 1;
        }
    } else {
        // Spaces before the old delimiter go too.
        while prev > 0 && is_spht(v[prev - 1]) {
            prev -= 1;
        }
        start_at = prev;
        // Keep the delimiter, and a space when there was room for one.
        if next < end {
            v[prev] = v[next];
            prev += 1;
            next += 1;
            if prev + 1 < next {
                v[prev] = b' ';
                prev += 1;
            }
            while next < end && is_spht(v[next]) {
                next += 1;
            }
        }
    }
    v.copy_within(next..end, prev);
    (start_at, prev as isize - next as isize)
}

/// `b64tos30()`: five base64 characters as a 30-bit number (-1 when invalid).
fn b64_to_s30(s: &[u8]) -> i64 {
    let mut out: i64 = 0;
    for &c in s.iter().take(5) {
        let b = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return -1,
        };
        out = (out << 6) + i64::from(b);
    }
    if s.len() < 5 {
        return -1;
    }
    out
}

impl CookiePersistence {
    /// The backend's `cookie` line, if any; what this engine cannot run is an error
    /// naming the proxy's `file:line`.
    pub fn compile(proxy: &Proxy) -> Result<Option<CookiePersistence>, ProxyError> {
        let Some(cookie) = &proxy.settings.cookie else {
            return Ok(None);
        };
        let at = format!("{}:{}", proxy.at.file, proxy.at.line);
        let refuse = |what: &str| {
            ProxyError::Plan(format!(
                "{at}: 'cookie {} {what}' is not supported by ha-compat's proxy engine yet \
                 (only 'insert' persistence runs; refusing rather than ignoring it)",
                cookie.name
            ))
        };
        match cookie.method.as_deref() {
            Some("insert") => {}
            Some(other) => return Err(refuse(other)),
            None => return Err(refuse("(passive mode)")),
        }
        let (mut indirect, mut nocache, mut postonly) = (false, false, false);
        let mut attributes = String::new();
        for domain in &cookie.domains {
            attributes.push_str("; domain=");
            attributes.push_str(domain);
        }
        let (mut httponly, mut secure) = (false, false);
        for flag in &cookie.flags {
            match flag.as_str() {
                "indirect" => indirect = true,
                "nocache" => nocache = true,
                "postonly" => postonly = true,
                "httponly" => httponly = true,
                "secure" => secure = true,
                other => return Err(refuse(other)),
            }
        }
        if cookie.maxidle.is_some() {
            return Err(refuse("maxidle"));
        }
        if cookie.maxlife.is_some() {
            return Err(refuse("maxlife"));
        }
        if cookie.dynamic {
            return Err(refuse("dynamic"));
        }
        if httponly {
            attributes.push_str("; HttpOnly");
        }
        if secure {
            attributes.push_str("; Secure");
        }
        for attr in &cookie.attrs {
            attributes.push_str("; ");
            attributes.push_str(attr);
        }
        Ok(Some(CookiePersistence {
            name: cookie.name.clone(),
            indirect,
            nocache,
            postonly,
            attributes,
            servers: proxy
                .servers
                .iter()
                .map(|s| (s.name.clone(), s.options.cookie.clone()))
                .collect(),
        }))
    }

    /// Reads (and with `indirect` removes) the persistence cookie of a request;
    /// `running(server)` says whether a server is not stopped.
    pub fn on_request(
        &self,
        head: &mut RequestHead,
        running: &dyn Fn(&str) -> bool,
    ) -> RequestCookie {
        scan_request_cookies(head, Some(self), None, running).0
    }
}

/// `http_manage_client_side_cookies()`: every `Cookie` line of a request, for the
/// backend's persistence cookie (read, and with `indirect` removed) and the frontend's
/// `capture cookie` (`%CC`); spaces around `=` are stripped from every cookie either
/// way. `running(server)` says whether a server is not stopped.
pub fn scan_request_cookies(
    head: &mut RequestHead,
    persistence: Option<&CookiePersistence>,
    capture: Option<&CookieCapture>,
    running: &dyn Fn(&str) -> bool,
) -> (RequestCookie, Option<String>) {
    let mut result = RequestCookie {
        flag: 'N',
        server: None,
        dated: false,
    };
    let mut captured = Captured::default();
    let mut kept = Vec::with_capacity(head.headers.0.len());
    for mut header in std::mem::take(&mut head.headers.0) {
        if header.name.eq_ignore_ascii_case("cookie") {
            let mut value = std::mem::take(&mut header.value).into_bytes();
            let scan = LineScan {
                persistence,
                capture,
                running,
            };
            let keep = scan.line(&mut value, &mut result, &mut captured);
            // The value is bytes of a header that was valid text; cutting at ASCII
            // delimiters keeps it valid.
            header.value = String::from_utf8_lossy(&value).into_owned();
            if !keep {
                continue;
            }
        }
        kept.push(header);
    }
    head.headers.0 = kept;
    (result, captured.0)
}

/// What one `Cookie` line is scanned for.
struct LineScan<'a> {
    persistence: Option<&'a CookiePersistence>,
    capture: Option<&'a CookieCapture>,
    running: &'a dyn Fn(&str) -> bool,
}

impl LineScan<'_> {
    /// One `Cookie` line, as the loop of `http_manage_client_side_cookies()`; `false`
    /// when the whole line goes.
    fn line(&self, v: &mut Vec<u8>, result: &mut RequestCookie, captured: &mut Captured) -> bool {
        let original_len = v.len();
        let mut hdr_end = v.len();
        let mut del_from: Option<usize> = None;
        let mut preserve = false;
        let mut prev = 0;
        let mut first = true;
        while prev < hdr_end {
            let mut att_beg = prev;
            if !first {
                att_beg += 1;
            }
            first = false;
            while att_beg < hdr_end && is_spht(v[att_beg]) {
                att_beg += 1;
            }
            let mut equal = att_beg;
            let mut att_end = att_beg;
            while equal < hdr_end {
                let c = v[equal];
                if c == b'=' || c == b',' || c == b';' {
                    break;
                }
                equal += 1;
                if !is_spht(c) {
                    att_end = equal;
                }
            }
            let (mut val_beg, mut val_end, mut next);
            if equal < hdr_end && v[equal] == b'=' {
                val_beg = equal + 1;
                while val_beg < hdr_end && is_spht(v[val_beg]) {
                    val_beg += 1;
                }
                next = cookie_value_end(v, val_beg, hdr_end);
                val_end = next;
                while val_end > val_beg && is_spht(v[val_end - 1]) {
                    val_end -= 1;
                }
            } else {
                val_beg = equal;
                val_end = equal;
                next = equal;
            }
            // `$` attributes belong to the cookie before them.
            if v.get(att_beg) == Some(&b'$') {
                prev = next;
                continue;
            }
            if equal == next {
                // No `=`: not ours, kept; a pending removal is done now.
                preserve = true;
                if let Some(from) = del_from.take() {
                    let (_, delta) = del_hdr_value(v, hdr_end, from, prev);
                    next = shift(next, delta);
                    hdr_end = shift(hdr_end, delta);
                }
                prev = next;
                continue;
            }
            // Spaces around `=` are stripped.
            if att_end != equal || val_beg > equal + 1 {
                let mut stripped: isize = 0;
                if att_end != equal {
                    v.copy_within(equal..hdr_end, att_end);
                    stripped = att_end as isize - equal as isize;
                    equal = shift(equal, stripped);
                    val_beg = shift(val_beg, stripped);
                }
                if val_beg > equal + 1 {
                    let end = shift(hdr_end, stripped);
                    v.copy_within(val_beg..end, equal + 1);
                    let after = (equal + 1) as isize - val_beg as isize;
                    val_beg = shift(val_beg, after);
                    stripped += after;
                }
                val_end = shift(val_end, stripped);
                next = shift(next, stripped);
                hdr_end = shift(hdr_end, stripped);
            }
            captured.offer(self.capture, v, att_beg, val_end);
            let ours = self
                .persistence
                .filter(|p| &v[att_beg..att_end] == p.name.as_bytes());
            if let Some(persistence) = ours {
                let mut delim = val_end;
                if let Some(bar) = v[val_beg..val_end].iter().position(|&b| b == b'|') {
                    delim = val_beg + bar;
                    let dates = &v[delim + 1..val_end];
                    if dates.len() >= 5 && b64_to_s30(dates) > 0 {
                        result.dated = true;
                    }
                    if let Some(second) = dates.iter().position(|&b| b == b'|') {
                        let first_seen = &dates[second + 1..];
                        if first_seen.len() >= 5 && b64_to_s30(first_seen) > 0 {
                            result.dated = true;
                        }
                    }
                }
                let assigned = result.server.is_some();
                let wanted = &v[val_beg..delim];
                let mut found = false;
                if !wanted.is_empty() && !assigned {
                    for (server, cookie) in &persistence.servers {
                        if cookie.as_deref().map(str::as_bytes) != Some(wanted) {
                            continue;
                        }
                        if (self.running)(server) {
                            result.flag = 'V';
                            result.server = Some(server.clone());
                            found = true;
                            break;
                        }
                        result.flag = 'D';
                    }
                }
                // HAProxy tests `flags & (TX_CK_DOWN|TX_CK_EXPIRED|TX_CK_OLD)`, values of
                // a 3-bit field used as a mask: any state but "none" matches, so only a
                // first finding is recorded (haproxy 2.6.12 logs `VN` for `SERVERID=s1;
                // SERVERID=s2`).
                if !found && result.flag == 'N' {
                    result.flag = if assigned { 'U' } else { 'I' };
                }
                if del_from.is_none() && persistence.indirect {
                    del_from = Some(prev);
                }
            } else {
                preserve = true;
                if let Some(from) = del_from.take() {
                    let (_, delta) = del_hdr_value(v, hdr_end, from, prev);
                    next = shift(next, delta);
                    hdr_end = shift(hdr_end, delta);
                }
            }
            prev = next;
        }
        if let Some(from) = del_from {
            hdr_end = if preserve { from } else { 0 };
        }
        v.truncate(hdr_end);
        hdr_end != 0 || original_len == 0
    }
}

impl CookiePersistence {
    /// Adds the cookie to a response when the session did not come by its cookie:
    /// returns `%tsc`'s fourth character (`I` inserted, `U` updated, `N` nothing).
    /// `method` and `status` decide `nocache`'s cacheability.
    pub fn on_response(
        &self,
        response: &mut ResponseHead,
        server: &str,
        request: &RequestCookie,
        method: &str,
    ) -> char {
        let (mut flag, _) = scan_set_cookies(response, Some(self), None);
        let direct = request.server.as_deref() == Some(server);
        if (direct && !request.dated) || (self.postonly && method != "POST") {
            return flag;
        }
        let cookie = self
            .servers
            .iter()
            .find(|(name, _)| name == server)
            .and_then(|(_, c)| c.as_deref());
        let value = match cookie {
            None => format!(
                "{}=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/{}",
                self.name, self.attributes
            ),
            Some(c) => format!("{}={c}; path=/{}", self.name, self.attributes),
        };
        response.headers.add("Set-Cookie", &value);
        flag = if cookie.is_some() && direct { 'U' } else { 'I' };
        if self.nocache && cacheable(method, response.status, &response.headers) {
            response.headers.add("Cache-control", "private");
        }
        flag
    }
}

/// `http_manage_server_side_cookies()` for the persistence cookie in insert mode and
/// the frontend's `capture cookie` (`%CS`): the first `NAME=VALUE` of every
/// `Set-Cookie` line has the spaces around its `=` stripped, and a line setting our
/// cookie is removed (`D`; `N` when there was none). `Set-Cookie2` lines are not read.
pub fn scan_set_cookies(
    response: &mut ResponseHead,
    persistence: Option<&CookiePersistence>,
    capture: Option<&CookieCapture>,
) -> (char, Option<String>) {
    let mut flag = 'N';
    let mut captured = Captured::default();
    response.headers.0.retain_mut(|header| {
        if !header.name.eq_ignore_ascii_case("set-cookie") {
            return true;
        }
        let v = header.value.as_bytes();
        let end = v.len();
        let mut att_beg = 0;
        while att_beg < end && is_spht(v[att_beg]) {
            att_beg += 1;
        }
        let mut equal = att_beg;
        let mut att_end = att_beg;
        while equal < end {
            let c = v[equal];
            if c == b'=' || c == b';' {
                break;
            }
            equal += 1;
            if !is_spht(c) {
                att_end = equal;
            }
        }
        if equal >= end || v[equal] != b'=' {
            return true;
        }
        let mut val_beg = equal + 1;
        while val_beg < end && is_spht(v[val_beg]) {
            val_beg += 1;
        }
        let mut val_end = cookie_value_end(v, val_beg, end);
        while val_end > val_beg && is_spht(v[val_end - 1]) {
            val_end -= 1;
        }
        if equal == val_end {
            return true;
        }
        let ours = persistence.is_some_and(|p| &v[att_beg..att_end] == p.name.as_bytes());
        let stripped = if att_end != equal || val_beg > equal + 1 {
            let mut stripped = Vec::with_capacity(end);
            stripped.extend_from_slice(&v[..att_end]);
            stripped.push(b'=');
            stripped.extend_from_slice(&v[val_beg..]);
            Some(stripped)
        } else {
            None
        };
        match stripped {
            Some(stripped) => {
                let val_end = val_end - (val_beg - att_end - 1);
                captured.offer(capture, &stripped, att_beg, val_end);
                header.value = String::from_utf8_lossy(&stripped).into_owned();
            }
            None => captured.offer(capture, v, att_beg, val_end),
        }
        if ours {
            flag = 'D';
            return false;
        }
        true
    });
    (flag, captured.0)
}

/// `TX_CACHEABLE` after `http_check_response_for_cacheability()`: a safe method, a
/// status cacheable by default, then the response's `Pragma`/`Cache-Control`/
/// `Expires`/`ETag`/`Last-Modified`.
fn cacheable(method: &str, status: u16, headers: &Headers) -> bool {
    let mut cacheable = matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
        && matches!(
            status,
            200 | 203 | 204 | 206 | 300 | 301 | 404 | 405 | 410 | 414 | 501
        );
    if status < 200 {
        return false;
    }
    if headers
        .first("pragma")
        .is_some_and(|v| v.eq_ignore_ascii_case("no-cache"))
    {
        return false;
    }
    let mut fresh = false;
    let values = headers
        .values("cache-control")
        .flat_map(|v| v.split(','))
        .map(|v| v.trim_matches([' ', '\t']));
    for value in values {
        let lower = value.to_ascii_lowercase();
        if lower == "public" {
            cacheable = true;
        } else if matches!(
            lower.as_str(),
            "private" | "no-cache" | "no-store" | "max-age=0" | "s-maxage=0"
        ) {
            cacheable = false;
        } else if lower.starts_with("no-cache=\"set-cookie") {
            // Only the cookie is not cacheable (`TX_CACHE_COOK`).
        } else if lower.starts_with("s-maxage") || lower.starts_with("max-age") {
            fresh = true;
        }
    }
    if !fresh {
        fresh = headers.contains("expires");
    }
    let validator = headers.contains("etag") || headers.contains("last-modified");
    if !fresh && !validator {
        cacheable = false;
    }
    cacheable
}

#[cfg(test)]
mod tests;
