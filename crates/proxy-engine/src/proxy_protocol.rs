//! The PROXY protocol, v1 (text) and v2 (binary), as HAProxy 2.6 writes it for
//! `send-proxy` / `send-proxy-v2` (`make_proxy_line_v1/v2()` in src/connection.c) and
//! reads it for `accept-proxy` (`conn_recv_proxy()`). Pure: bytes in, bytes out.
//!
//! What HAProxy does and this module copies:
//! - v1 with both ends IPv4 is `PROXY TCP4 SRC DST SPORT DPORT\r\n`; if either end is
//!   IPv6 both are written as IPv6 (`TCP6`, an IPv4 end as `::ffff:a.b.c.d`); anything
//!   else (a unix socket client) is `PROXY UNKNOWN\r\n`.
//! - v2 without `proxy-v2-options` carries no TLV: the 16-byte header plus 12 (IPv4) or
//!   36 (IPv6) address bytes, or a LOCAL command with no address.
//! - On input HAProxy looks at the first bytes received only once (`MSG_PEEK`): a header
//!   that is not whole there is "truncated". Fewer than 6 bytes, or fewer than 16 that
//!   are not `PROXY `, are not enough to tell; `PROXY ` must be followed by `TCP4 `,
//!   `TCP6 ` or exactly `UNKNOWN\r\n` ("unhandled protocol" otherwise); v2 TLVs are
//!   walked (a TLV crossing the end, a bad CRC32C, an authority over 255 bytes or a
//!   unique id over 128 is an invalid header) and their bytes consumed, never forwarded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The 12-byte signature that starts every v2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The longest v1 line the specification allows (and HAProxy accepts), CRLF included.
pub const V1_MAX_LEN: usize = 107;

/// What a PROXY header says about the connection it precedes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// The real client and the address it connected to.
    Proxied {
        source: SocketAddr,
        destination: SocketAddr,
    },
    /// v1 `UNKNOWN` or v2 `LOCAL` / an unspecified family: use the connection's own
    /// addresses.
    Unknown,
}

/// Why bytes are not a PROXY header (HAProxy logs it and closes the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxyHeaderError {
    /// `CO_ER_PRX_NOT_HDR`.
    #[error("Received something which does not look like a PROXY protocol header")]
    NotProxy,
    /// `CO_ER_PRX_BAD_HDR`.
    #[error("Received an invalid PROXY protocol header")]
    BadHeader,
    /// `CO_ER_PRX_BAD_PROTO`: v1 with neither `TCP4`, `TCP6` nor `UNKNOWN`.
    #[error("Received an unhandled protocol in the PROXY protocol header")]
    UnhandledProtocol,
}

/// The result of looking at the first bytes of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A whole header, `consumed` bytes long (the payload starts after them).
    Complete {
        header: ProxyHeader,
        consumed: usize,
    },
    /// A valid beginning: read more bytes.
    Incomplete,
}

/// IPv4 addresses as IPv6 (`::ffff:a.b.c.d`) when the other end is IPv6, as `v4tov6()`.
fn as_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// `send-proxy`: the v1 line for a connection from `source` to `destination`, or
/// `PROXY UNKNOWN\r\n` when either is not known (`None`).
pub fn encode_v1(addresses: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    let Some((src, dst)) = addresses else {
        return b"PROXY UNKNOWN\r\n".to_vec();
    };
    let line = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            format!("PROXY TCP4 {s} {d} {} {}\r\n", src.port(), dst.port())
        }
        (s, d) => format!(
            "PROXY TCP6 {} {} {} {}\r\n",
            as_v6(s),
            as_v6(d),
            src.port(),
            dst.port()
        ),
    };
    line.into_bytes()
}

/// `send-proxy-v2`: the binary header (no TLV), LOCAL when the addresses are unknown.
pub fn encode_v2(addresses: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(52);
    out.extend_from_slice(&V2_SIGNATURE);
    let Some((src, dst)) = addresses else {
        out.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        return out;
    };
    out.push(0x21);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x11);
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.push(0x21);
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&as_v6(s).octets());
            out.extend_from_slice(&as_v6(d).octets());
        }
    }
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out
}

/// `accept-proxy`: reads a v1 or v2 header at the start of `buf`, the bytes received so
/// far (`Incomplete`: not enough to decide; HAProxy calls that "truncated" once it has
/// received anything).
pub fn decode(buf: &[u8]) -> Result<Decoded, ProxyHeaderError> {
    if buf.len() < 6 {
        return Ok(Decoded::Incomplete);
    }
    if buf.starts_with(b"PROXY ") {
        return decode_v1(buf);
    }
    decode_v2(buf)
}

fn bad<T>() -> Result<T, ProxyHeaderError> {
    Err(ProxyHeaderError::BadHeader)
}

fn decode_v1(buf: &[u8]) -> Result<Decoded, ProxyHeaderError> {
    if buf.len() < 9 {
        return Ok(Decoded::Incomplete);
    }
    let rest = &buf[6..];
    if rest.starts_with(b"UNKNOWN\r\n") {
        return Ok(Decoded::Complete {
            header: ProxyHeader::Unknown,
            consumed: 6 + 9,
        });
    }
    if rest.starts_with(b"TCP4 ") {
        decode_tcp4(buf)
    } else if rest.starts_with(b"TCP6 ") {
        decode_tcp6(buf)
    } else {
        Err(ProxyHeaderError::UnhandledProtocol)
    }
}

/// Bytes from `at` while `keep` holds: the token and where it stopped.
fn take_while(buf: &[u8], at: usize, keep: impl Fn(u8) -> bool) -> (&[u8], usize) {
    let len = buf[at..].iter().take_while(|&&b| keep(b)).count();
    (&buf[at..at + len], at + len)
}

fn parse_port(text: &[u8]) -> Result<u16, ProxyHeaderError> {
    std::str::from_utf8(text)
        .ok()
        .filter(|t| !t.is_empty())
        .and_then(|t| t.parse().ok())
        .ok_or(ProxyHeaderError::BadHeader)
}

/// Field by field as HAProxy reads it: running out of bytes is "truncated", a wrong
/// separator is an invalid header.
fn decode_tcp4(buf: &[u8]) -> Result<Decoded, ProxyHeaderError> {
    let mut at = 11;
    let mut fields: Vec<&[u8]> = Vec::with_capacity(4);
    for (i, keep) in [
        (
            0,
            (|b: u8| b.is_ascii_digit() || b == b'.') as fn(u8) -> bool,
        ),
        (1, |b: u8| b.is_ascii_digit() || b == b'.'),
        (2, |b: u8| b.is_ascii_digit()),
        (3, |b: u8| b.is_ascii_digit()),
    ] {
        let (token, next) = take_while(buf, at, keep);
        fields.push(token);
        at = next;
        if i < 3 {
            match buf.get(at) {
                None => return Ok(Decoded::Incomplete),
                Some(b' ') => at += 1,
                Some(_) => return bad(),
            }
        }
    }
    if at + 2 > buf.len() {
        return Ok(Decoded::Incomplete);
    }
    if &buf[at..at + 2] != b"\r\n" {
        return bad();
    }
    let ip = |b: &[u8]| -> Result<Ipv4Addr, ProxyHeaderError> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or(ProxyHeaderError::BadHeader)
    };
    Ok(Decoded::Complete {
        header: ProxyHeader::Proxied {
            source: SocketAddr::new(IpAddr::V4(ip(fields[0])?), parse_port(fields[2])?),
            destination: SocketAddr::new(IpAddr::V4(ip(fields[1])?), parse_port(fields[3])?),
        },
        consumed: at + 2,
    })
}

/// Up to the CR, then four space-separated fields.
fn decode_tcp6(buf: &[u8]) -> Result<Decoded, ProxyHeaderError> {
    let Some(cr) = buf[11..].iter().position(|&b| b == b'\r').map(|p| p + 11) else {
        return Ok(Decoded::Incomplete);
    };
    match buf.get(cr + 1) {
        None => return Ok(Decoded::Incomplete),
        Some(b'\n') => {}
        Some(_) => return bad(),
    }
    let fields: Vec<&[u8]> = buf[11..cr].split(|&b| b == b' ').collect();
    let [src, dst, sport, dport] = fields[..] else {
        return bad();
    };
    let ip = |b: &[u8]| -> Result<Ipv6Addr, ProxyHeaderError> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or(ProxyHeaderError::BadHeader)
    };
    Ok(Decoded::Complete {
        header: ProxyHeader::Proxied {
            source: SocketAddr::new(IpAddr::V6(ip(src)?), parse_port(sport)?),
            destination: SocketAddr::new(IpAddr::V6(ip(dst)?), parse_port(dport)?),
        },
        consumed: cr + 2,
    })
}

/// PP2_TYPE_CRC32C, PP2_TYPE_AUTHORITY, PP2_TYPE_UNIQUE_ID.
const PP2_TYPE_AUTHORITY: u8 = 0x02;
const PP2_TYPE_CRC32C: u8 = 0x03;
const PP2_TYPE_UNIQUE_ID: u8 = 0x05;

fn decode_v2(buf: &[u8]) -> Result<Decoded, ProxyHeaderError> {
    if buf.len() < 16 {
        return Ok(Decoded::Incomplete);
    }
    if buf[..12] != V2_SIGNATURE || buf[12] & 0xf0 != 0x20 {
        return Err(ProxyHeaderError::NotProxy);
    }
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let total = 16 + len;
    if buf.len() < total {
        return Ok(Decoded::Incomplete);
    }
    let complete = |header| {
        Ok(Decoded::Complete {
            header,
            consumed: total,
        })
    };
    match buf[12] & 0x0f {
        0x00 => return complete(ProxyHeader::Unknown),
        0x01 => {}
        _ => return bad(),
    }
    let family = buf[13];
    let body = &buf[16..total];
    let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    let (header, mut tlv_at) = match family {
        0x11 => {
            if len < 12 {
                return bad();
            }
            let ip = |at: usize| Ipv4Addr::new(body[at], body[at + 1], body[at + 2], body[at + 3]);
            let header = ProxyHeader::Proxied {
                source: SocketAddr::new(IpAddr::V4(ip(0)), port(8)),
                destination: SocketAddr::new(IpAddr::V4(ip(4)), port(10)),
            };
            (header, 16 + 12)
        }
        0x21 => {
            if len < 36 {
                return bad();
            }
            let ip = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&body[at..at + 16]);
                Ipv6Addr::from(octets)
            };
            let header = ProxyHeader::Proxied {
                source: SocketAddr::new(IpAddr::V6(ip(0)), port(32)),
                destination: SocketAddr::new(IpAddr::V6(ip(16)), port(34)),
            };
            (header, 16 + 36)
        }
        // Another family (unix, unspecified): the connection's own addresses.
        _ => return complete(ProxyHeader::Unknown),
    };
    while tlv_at < total {
        if tlv_at + 3 > total {
            return bad();
        }
        let kind = buf[tlv_at];
        let value_len = usize::from(u16::from_be_bytes([buf[tlv_at + 1], buf[tlv_at + 2]]));
        let value_at = tlv_at + 3;
        tlv_at = value_at + value_len;
        if tlv_at > total {
            return bad();
        }
        match kind {
            PP2_TYPE_CRC32C => {
                if value_len != 4 {
                    return bad();
                }
                let expected = u32::from_be_bytes([
                    buf[value_at],
                    buf[value_at + 1],
                    buf[value_at + 2],
                    buf[value_at + 3],
                ]);
                let mut zeroed = buf[..total].to_vec();
                zeroed[value_at..value_at + 4].fill(0);
                if crc32c(&zeroed) != expected {
                    return bad();
                }
            }
            PP2_TYPE_AUTHORITY if value_len > 255 => return bad(),
            PP2_TYPE_UNIQUE_ID if value_len > 128 => return bad(),
            _ => {}
        }
    }
    complete(header)
}

/// CRC-32C (Castagnoli), as `hash_crc32c()`.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sa(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn v1_tcp4_is_the_line_haproxy_sent() {
        // Captured from haproxy 2.6.12 `server s1 127.0.0.1:9000 send-proxy` (see
        // tests/reference_io.rs, which re-checks it against the running binary).
        assert_eq!(
            encode_v1(Some((sa("127.0.0.1:48160"), sa("127.0.0.1:8000")))),
            b"PROXY TCP4 127.0.0.1 127.0.0.1 48160 8000\r\n"
        );
    }

    #[test]
    fn v1_mixed_families_are_written_as_tcp6() {
        assert_eq!(
            encode_v1(Some((sa("10.0.0.1:1"), sa("[2001:db8::1]:80")))),
            b"PROXY TCP6 ::ffff:10.0.0.1 2001:db8::1 1 80\r\n"
        );
        assert_eq!(encode_v1(None), b"PROXY UNKNOWN\r\n");
    }

    #[test]
    fn v2_round_trips_and_has_no_tlv() {
        for (s, d) in [
            ("192.0.2.1:4000", "192.0.2.2:80"),
            ("[2001:db8::1]:4000", "[2001:db8::2]:443"),
        ] {
            let bytes = encode_v2(Some((sa(s), sa(d))));
            assert_eq!(bytes.len(), if s.starts_with('[') { 52 } else { 28 });
            assert_eq!(
                decode(&bytes).unwrap(),
                Decoded::Complete {
                    header: ProxyHeader::Proxied {
                        source: sa(s),
                        destination: sa(d)
                    },
                    consumed: bytes.len()
                }
            );
        }
        assert_eq!(
            decode(&encode_v2(None)).unwrap(),
            Decoded::Complete {
                header: ProxyHeader::Unknown,
                consumed: 16
            }
        );
    }

    #[test]
    fn v1_decodes_with_payload_after_it_and_waits_for_the_rest() {
        let line = b"PROXY TCP4 192.0.2.1 192.0.2.2 4000 80\r\nGET /";
        assert_eq!(
            decode(line).unwrap(),
            Decoded::Complete {
                header: ProxyHeader::Proxied {
                    source: sa("192.0.2.1:4000"),
                    destination: sa("192.0.2.2:80")
                },
                consumed: line.len() - 5
            }
        );
        assert_eq!(decode(b"PROXY TCP4 192").unwrap(), Decoded::Incomplete);
        assert_eq!(decode(b"PRO").unwrap(), Decoded::Incomplete);
        // As haproxy 2.6.12 answered (tests/reference_io.rs re-checks these lines).
        assert_eq!(
            decode(b"GET / HTTP/1.0\r\n\r\n"),
            Err(ProxyHeaderError::NotProxy)
        );
        assert_eq!(
            decode(b"GET / HTTP/1"),
            Ok(Decoded::Incomplete),
            "< 16 bytes"
        );
        assert_eq!(decode(b"PROXY TCP4 1.2.3.4"), Ok(Decoded::Incomplete));
        assert_eq!(
            decode(b"PROXY TCP4 1.2.3.4 x\r\n"),
            Err(ProxyHeaderError::BadHeader)
        );
        assert_eq!(
            decode(b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"),
            Err(ProxyHeaderError::BadHeader)
        );
        assert_eq!(
            decode(b"PROXY TCP5 1.2.3.4 1.2.3.5 1 2\r\n"),
            Err(ProxyHeaderError::UnhandledProtocol)
        );
        assert_eq!(
            decode(b"PROXY UNKNOWN 1.2.3.4 1.2.3.5 1 2\r\n"),
            Err(ProxyHeaderError::UnhandledProtocol),
            "2.6 only takes a bare UNKNOWN"
        );
    }

    #[test]
    fn crc32c_is_castagnoli() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn v2_crc32c_tlv_is_checked() {
        let mut bytes = encode_v2(Some((sa("192.0.2.1:1"), sa("192.0.2.2:2"))));
        bytes[15] += 7;
        bytes.extend_from_slice(&[PP2_TYPE_CRC32C, 0x00, 0x04, 0, 0, 0, 0]);
        let crc = crc32c(&bytes);
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            decode(&bytes),
            Ok(Decoded::Complete { consumed: 35, .. })
        ));
        bytes[n - 1] ^= 1;
        assert_eq!(decode(&bytes), Err(ProxyHeaderError::BadHeader));
        // A TLV running past the header's end.
        let mut bytes = encode_v2(Some((sa("192.0.2.1:1"), sa("192.0.2.2:2"))));
        bytes[15] += 4;
        bytes.extend_from_slice(&[0x04, 0x00, 0x09, 0x00]);
        assert_eq!(decode(&bytes), Err(ProxyHeaderError::BadHeader));
    }

    #[test]
    fn v2_tlvs_are_consumed() {
        let mut bytes = encode_v2(Some((sa("192.0.2.1:1"), sa("192.0.2.2:2"))));
        bytes[15] += 4;
        bytes.extend_from_slice(&[0x04, 0x00, 0x01, 0x00]); // PP2_TYPE_NOOP, 1 byte
        bytes.extend_from_slice(b"payload");
        assert!(matches!(
            decode(&bytes).unwrap(),
            Decoded::Complete { consumed: 32, .. }
        ));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn decode_never_panics_after_a_signature(
            v2 in any::<bool>(),
            tail in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            let head: &[u8] = if v2 { &V2_SIGNATURE } else { b"PROXY " };
            let bytes = [head, &tail].concat();
            if let Ok(Decoded::Complete { consumed, .. }) = decode(&bytes) {
                prop_assert!(consumed <= bytes.len());
            }
        }

        #[test]
        fn v1_round_trips(a in any::<[u8; 4]>(), b in any::<[u8; 4]>(), p in any::<u16>(), q in any::<u16>()) {
            let src = SocketAddr::from((a, p));
            let dst = SocketAddr::from((b, q));
            let bytes = encode_v1(Some((src, dst)));
            prop_assert_eq!(decode(&bytes).unwrap(), Decoded::Complete {
                header: ProxyHeader::Proxied { source: src, destination: dst },
                consumed: bytes.len(),
            });
        }
    }
}
