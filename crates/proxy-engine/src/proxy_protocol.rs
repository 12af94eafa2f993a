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
//! - On input a v1 line is at most 107 bytes; `UNKNOWN` ignores the rest of its line; v2
//!   TLVs are skipped (their bytes are consumed, never forwarded).

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

/// Why bytes are not a PROXY header (HAProxy closes such a connection).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyHeaderError {
    /// Neither `PROXY ` nor the v2 signature.
    #[error("not a PROXY protocol header")]
    NotProxy,
    /// A v1 line without CRLF within 107 bytes.
    #[error("PROXY v1 line too long")]
    V1TooLong,
    /// A v1 line with a bad protocol, address or port.
    #[error("malformed PROXY v1 line")]
    V1Malformed,
    /// A v2 header with a bad version, command, family or length.
    #[error("malformed PROXY v2 header")]
    V2Malformed,
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

/// `accept-proxy`: reads a v1 or v2 header at the start of `buf`.
pub fn decode(buf: &[u8]) -> Result<Decoded, ProxyHeaderError> {
    if buf.is_empty() {
        return Ok(Decoded::Incomplete);
    }
    if buf[0] == b'P' {
        return decode_v1(buf);
    }
    if buf[0] == b'\r' {
        return decode_v2(buf);
    }
    Err(ProxyHeaderError::NotProxy)
}

fn decode_v1(buf: &[u8]) -> Result<Decoded, ProxyHeaderError> {
    const PREFIX: &[u8] = b"PROXY ";
    let n = buf.len().min(PREFIX.len());
    if buf[..n] != PREFIX[..n] {
        return Err(ProxyHeaderError::NotProxy);
    }
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    let Some(cr) = window.iter().position(|&b| b == b'\r') else {
        return if buf.len() >= V1_MAX_LEN {
            Err(ProxyHeaderError::V1TooLong)
        } else {
            Ok(Decoded::Incomplete)
        };
    };
    match buf.get(cr + 1) {
        None => return Ok(Decoded::Incomplete),
        Some(b'\n') => {}
        Some(_) => return Err(ProxyHeaderError::V1Malformed),
    }
    let consumed = cr + 2;
    let line = std::str::from_utf8(&buf[PREFIX.len().min(cr)..cr])
        .map_err(|_| ProxyHeaderError::V1Malformed)?;
    if line.starts_with("UNKNOWN") {
        return Ok(Decoded::Complete {
            header: ProxyHeader::Unknown,
            consumed,
        });
    }
    let fields: Vec<&str> = line.split(' ').collect();
    let [proto, src, dst, sport, dport] = fields[..] else {
        return Err(ProxyHeaderError::V1Malformed);
    };
    let (src, dst): (IpAddr, IpAddr) = match proto {
        "TCP4" => (
            IpAddr::V4(parse_v1_ip::<Ipv4Addr>(src)?),
            IpAddr::V4(parse_v1_ip::<Ipv4Addr>(dst)?),
        ),
        "TCP6" => (
            IpAddr::V6(parse_v1_ip::<Ipv6Addr>(src)?),
            IpAddr::V6(parse_v1_ip::<Ipv6Addr>(dst)?),
        ),
        _ => return Err(ProxyHeaderError::V1Malformed),
    };
    Ok(Decoded::Complete {
        header: ProxyHeader::Proxied {
            source: SocketAddr::new(src, parse_v1_port(sport)?),
            destination: SocketAddr::new(dst, parse_v1_port(dport)?),
        },
        consumed,
    })
}

fn parse_v1_ip<T: std::str::FromStr>(text: &str) -> Result<T, ProxyHeaderError> {
    text.parse().map_err(|_| ProxyHeaderError::V1Malformed)
}

/// Decimal digits only (no sign, no spaces), as HAProxy's `read_uint()` reads them.
fn parse_v1_port(text: &str) -> Result<u16, ProxyHeaderError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProxyHeaderError::V1Malformed);
    }
    text.parse().map_err(|_| ProxyHeaderError::V1Malformed)
}

fn decode_v2(buf: &[u8]) -> Result<Decoded, ProxyHeaderError> {
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] != V2_SIGNATURE[..n] {
        return Err(ProxyHeaderError::NotProxy);
    }
    if buf.len() < 16 {
        return Ok(Decoded::Incomplete);
    }
    let ver_cmd = buf[12];
    let family = buf[13];
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if ver_cmd & 0xf0 != 0x20 {
        return Err(ProxyHeaderError::V2Malformed);
    }
    let consumed = 16 + len;
    // Checked before waiting for the body: a bad command never becomes "read more".
    let command = ver_cmd & 0x0f;
    if command > 1 {
        return Err(ProxyHeaderError::V2Malformed);
    }
    let needed = match family {
        0x11 => 12,
        0x21 => 36,
        _ => 0,
    };
    if command == 1 && len < needed {
        return Err(ProxyHeaderError::V2Malformed);
    }
    if buf.len() < consumed {
        return Ok(Decoded::Incomplete);
    }
    if command == 0 || needed == 0 {
        // LOCAL, or an address family HAProxy does not use (unix, unspecified).
        return Ok(Decoded::Complete {
            header: ProxyHeader::Unknown,
            consumed,
        });
    }
    let body = &buf[16..consumed];
    let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    let (source, destination) = if family == 0x11 {
        let ip = |at: usize| Ipv4Addr::new(body[at], body[at + 1], body[at + 2], body[at + 3]);
        (
            SocketAddr::new(IpAddr::V4(ip(0)), port(8)),
            SocketAddr::new(IpAddr::V4(ip(4)), port(10)),
        )
    } else {
        let ip = |at: usize| {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&body[at..at + 16]);
            Ipv6Addr::from(octets)
        };
        (
            SocketAddr::new(IpAddr::V6(ip(0)), port(32)),
            SocketAddr::new(IpAddr::V6(ip(16)), port(34)),
        )
    };
    Ok(Decoded::Complete {
        header: ProxyHeader::Proxied {
            source,
            destination,
        },
        consumed,
    })
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
        assert_eq!(decode(b"GET / HTTP/1.0"), Err(ProxyHeaderError::NotProxy));
        assert_eq!(
            decode(b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"),
            Err(ProxyHeaderError::V1Malformed)
        );
        assert_eq!(
            decode(&[b"PROXY ".as_slice(), &[b'x'; 120]].concat()),
            Err(ProxyHeaderError::V1TooLong)
        );
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
