//! `errorfile` contents: read at load and checked as HAProxy 2.6's `http_load_errorfile()`
//! / `http_str_to_htx()` (src/http_htx.c) check them: a complete HTTP/1.x response whose
//! status is not informational, whose announced length matches its payload.

/// Status codes HAProxy can serve from an errorfile (`http_err_codes`).
pub const HANDLED_STATUS_CODES: [u16; 19] = [
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 421, 422, 425, 429, 500, 501, 502, 503, 504,
];

/// HAProxy's `tune.bufsize` default: larger files are truncated with a warning.
pub const DEFAULT_BUFSIZE: usize = 16384;

/// Why an errorfile's content is refused (the text after `'FILE': `).
pub fn check_response(raw: &[u8]) -> Result<(), String> {
    if raw.is_empty() {
        return Ok(());
    }
    // Header block: lines ending in LF (CR optional) up to an empty line.
    let mut pos = 0usize;
    let mut lines: Vec<&[u8]> = Vec::new();
    let header_end = loop {
        let Some(nl) = raw[pos..].iter().position(|&b| b == b'\n') else {
            return Err(format!(
                "unable to parse headers (error offset: {})",
                raw.len()
            ));
        };
        let line = &raw[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += nl + 1;
        if line.is_empty() {
            if lines.is_empty() {
                continue;
            }
            break pos;
        }
        lines.push(line);
    };
    let status_line = lines.first().copied().unwrap_or_default();
    let mut parts = status_line.splitn(3, |&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with(b"HTTP/") {
        return Err("unable to parse headers (error offset: 0)".into());
    }
    if version.len() != 8 {
        return Err(format!(
            "invalid http version ({})",
            String::from_utf8_lossy(version)
        ));
    }
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "unable to parse headers (error offset: {})",
            version.len() + 1
        ));
    }
    let status: u32 = String::from_utf8_lossy(code).parse().unwrap_or(0);
    if status < 200 && (status == 100 || status >= 102) {
        return Err(format!(
            "invalid http status code for an error message ({status})"
        ));
    }
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    for header in &lines[1..] {
        let Some(colon) = header.iter().position(|&b| b == b':') else {
            return Err("unable to parse headers (error offset: 0)".into());
        };
        let name = String::from_utf8_lossy(&header[..colon]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&header[colon + 1..])
            .trim()
            .to_string();
        match name.as_str() {
            "content-length" => content_length = value.parse().ok(),
            "transfer-encoding" if value.to_ascii_lowercase().contains("chunked") => chunked = true,
            _ => {}
        }
    }
    let payload = (raw.len() - header_end) as u64;
    let bodyless_status = status == 204 || status == 304;
    if chunked && !bodyless_status {
        return Err("chunk-encoded payload not supported".into());
    }
    let known_length = bodyless_status || content_length.is_some();
    if known_length {
        let expected = if bodyless_status {
            0
        } else {
            content_length.unwrap_or(0)
        };
        if expected == 0 && payload > 0 {
            return Err("message payload not expected".into());
        }
        if expected != payload {
            return Err(format!(
                "payload size does not match the announced content-length ({payload} != {expected})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_503_is_valid() {
        let page = b"HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
        assert_eq!(check_response(page), Ok(()));
    }

    #[test]
    fn length_mismatch_and_bad_version() {
        assert!(
            check_response(b"HTTP/1.0 503 x\r\ncontent-length: 3\r\n\r\nab")
                .is_err_and(|e| e.contains("(2 != 3)"))
        );
        assert!(check_response(b"HTTP/1 503 x\r\n\r\n")
            .is_err_and(|e| e.contains("invalid http version")));
        assert!(check_response(b"HTTP/1.1 100 x\r\n\r\n").is_err());
        assert!(check_response(b"garbage").is_err());
    }
}
