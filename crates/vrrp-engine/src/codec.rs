//! The VRRP packet: RFC 3768 (v2) and RFC 5798 (v3) adverts for IPv4 and IPv6, as keepalived
//! 2.2.7 writes and reads them. Pure: bytes in, typed values out, and back.
//!
//! The *VRRP payload* is what follows the IP header (and keepalived's AH header, if any):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IPvX Addr|
//! v2: | Auth Type | Adver Int (s) |          Checksum              |
//! v3: |(rsvd)|  Max Adver Int (cs, 12 bits) |      Checksum        |
//! |                  IPvX address(es) ...                         |
//! v2 only: | Authentication Data (8 bytes: PASS, zero padded) |
//! ```
//!
//! Checksums: v2 over the payload; v3 over an IPv4/IPv6 pseudo-header and the payload (RFC
//! 5798 5.2.8, keepalived's default), or without the pseudo-header for keepalived's
//! `v3_checksum_as_v2` peers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::VrrpError;

/// The IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The IP protocol number of IPsec AH (keepalived's `auth_type AH`).
pub const IPPROTO_AH: u8 = 51;
/// TTL / hop limit every VRRP packet is sent with and (multicast) must arrive with.
pub const VRRP_TTL: u8 = 255;
/// The only packet type: ADVERTISEMENT.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Length of the v2 authentication data.
pub const AUTH_DATA_LEN: usize = 8;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 8;
/// Length of keepalived's AH header (next header, length, reserved, SPI, sequence, 96-bit
/// ICV).
pub const AH_LEN: usize = 24;

/// VRRP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: seconds, authentication fields, no pseudo-header.
    V2,
    /// RFC 5798: centiseconds, no authentication.
    V3,
}

impl Version {
    /// The number in the version nibble.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// Address family of an instance: every address of an advert is of this family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: 4-byte addresses.
    V4,
    /// IPv6: 16-byte addresses.
    V6,
}

impl Family {
    /// Bytes per address.
    pub fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    /// The family of `addr`.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// The v2 authentication field as it is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireAuth {
    /// Auth type 0, eight zero bytes.
    None,
    /// Auth type 1 and the password, zero padded (keepalived truncates to 8).
    Pass([u8; AUTH_DATA_LEN]),
    /// Auth type 2: the IPsec AH header carries the authentication; data bytes zero.
    Ah,
    /// Any other auth type and its data (received, never sent).
    Other(u8, [u8; AUTH_DATA_LEN]),
}

impl WireAuth {
    /// The auth type number.
    pub fn type_number(&self) -> u8 {
        match self {
            WireAuth::None => 0,
            WireAuth::Pass(_) => 1,
            WireAuth::Ah => 2,
            WireAuth::Other(t, _) => *t,
        }
    }

    /// The PASS field for a configured `auth_pass` (first 8 bytes, zero padded), as
    /// keepalived builds it.
    pub fn pass(password: &[u8]) -> WireAuth {
        let mut data = [0u8; AUTH_DATA_LEN];
        for (d, b) in data.iter_mut().zip(password) {
            *d = *b;
        }
        WireAuth::Pass(data)
    }
}

/// Everything a VRRP advert says, by version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Advert {
    /// v2 or v3.
    pub version: Version,
    /// The type nibble (1 for every valid packet).
    pub kind: u8,
    /// Virtual router id (1..255 in configs; 0 is carried as received).
    pub vrid: u8,
    /// Priority: 0 = the master is leaving, 255 = the address owner.
    pub priority: u8,
    /// v2: seconds (8 bits); v3: centiseconds (12 bits).
    pub interval: u16,
    /// v2 only: the authentication field (v3 has none: `WireAuth::None`).
    pub auth: WireAuth,
    /// The virtual addresses, all of one family.
    pub addresses: Vec<IpAddr>,
}

impl Advert {
    /// The interval in centiseconds, whatever the version.
    pub fn interval_centis(&self) -> u32 {
        match self.version {
            Version::V2 => u32::from(self.interval) * 100,
            Version::V3 => u32::from(self.interval),
        }
    }

    /// The payload length this advert encodes to.
    pub fn encoded_len(&self, family: Family) -> usize {
        payload_len(self.version, family, self.addresses.len())
    }
}

/// Length of a VRRP payload with `count` addresses: keepalived's `expected_vrrp_pkt_len`
/// (v2 over IPv4 carries the 8 auth bytes, v2 over IPv6 does not exist in practice but is
/// sized the same way keepalived sizes it: without them).
pub fn payload_len(version: Version, family: Family, count: usize) -> usize {
    let auth = if version == Version::V2 && family == Family::V4 {
        AUTH_DATA_LEN
    } else {
        0
    };
    HEADER_LEN + count * family.addr_len() + auth
}

/// How a v3 checksum is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumMode {
    /// RFC 5798: with the pseudo-header (v3) / plain (v2). keepalived's default.
    Standard,
    /// keepalived's `v3_checksum_as_v2`: a v3 packet summed without the pseudo-header.
    V3AsV2,
}

/// Encodes `advert` into a payload from `src` to `dst` (needed for the v3 pseudo-header).
///
/// Errors when the advert cannot be represented: addresses of another family than `src`,
/// more than 255 addresses, a v3 interval over 4095 cs, or a v2 interval over 255 s.
pub fn encode(
    advert: &Advert,
    src: IpAddr,
    dst: IpAddr,
    mode: ChecksumMode,
) -> Result<Vec<u8>, VrrpError> {
    let family = Family::of(&src);
    if Family::of(&dst) != family || advert.addresses.iter().any(|a| Family::of(a) != family) {
        return Err(VrrpError::Encode("addresses of mixed families".into()));
    }
    let count = u8::try_from(advert.addresses.len())
        .map_err(|_| VrrpError::Encode("more than 255 addresses in one advert".into()))?;
    let mut out = Vec::with_capacity(advert.encoded_len(family));
    out.push((advert.version.number() << 4) | (advert.kind & 0x0f));
    out.push(advert.vrid);
    out.push(advert.priority);
    out.push(count);
    match advert.version {
        Version::V2 => {
            let interval = u8::try_from(advert.interval)
                .map_err(|_| VrrpError::Encode("v2 interval over 255 s".into()))?;
            out.push(advert.auth.type_number());
            out.push(interval);
        }
        Version::V3 => {
            if advert.interval > 0x0fff {
                return Err(VrrpError::Encode("v3 interval over 4095 cs".into()));
            }
            out.extend_from_slice(&advert.interval.to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0]);
    for a in &advert.addresses {
        match a {
            IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
            IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
        }
    }
    if advert.version == Version::V2 && family == Family::V4 {
        let data = match advert.auth {
            WireAuth::Pass(d) | WireAuth::Other(_, d) => d,
            WireAuth::None | WireAuth::Ah => [0; AUTH_DATA_LEN],
        };
        out.extend_from_slice(&data);
    }
    let sum = checksum(advert.version, mode, src, dst, &out);
    out[6..8].copy_from_slice(&sum.to_be_bytes());
    Ok(out)
}

/// Decodes a payload of `family`. Structure only: the length must be exactly what the
/// header's count says (keepalived refuses both short and long packets), nothing else is
/// judged here (see [`crate::rx`] for keepalived's receive checks).
pub fn decode(payload: &[u8], family: Family) -> Result<Advert, VrrpError> {
    if payload.len() < HEADER_LEN {
        return Err(VrrpError::Decode(format!(
            "{} bytes, shorter than the 8-byte header",
            payload.len()
        )));
    }
    let version = match payload[0] >> 4 {
        2 => Version::V2,
        3 => Version::V3,
        v => return Err(VrrpError::Decode(format!("version {v}"))),
    };
    let count = usize::from(payload[3]);
    let want = payload_len(version, family, count);
    if payload.len() != want {
        return Err(VrrpError::Decode(format!(
            "length {} and expect {want}",
            payload.len()
        )));
    }
    let (interval, auth_type) = match version {
        Version::V2 => (u16::from(payload[5]), Some(payload[4])),
        Version::V3 => (u16::from_be_bytes([payload[4] & 0x0f, payload[5]]), None),
    };
    let mut addresses = Vec::with_capacity(count);
    let body = &payload[HEADER_LEN..HEADER_LEN + count * family.addr_len()];
    for chunk in body.chunks_exact(family.addr_len()) {
        addresses.push(match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(chunk[0], chunk[1], chunk[2], chunk[3])),
            Family::V6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(chunk);
                IpAddr::V6(Ipv6Addr::from(o))
            }
        });
    }
    let auth = match auth_type {
        None => WireAuth::None,
        Some(t) => {
            let mut data = [0u8; AUTH_DATA_LEN];
            if family == Family::V4 {
                data.copy_from_slice(&payload[want - AUTH_DATA_LEN..]);
            }
            match t {
                0 => WireAuth::None,
                1 => WireAuth::Pass(data),
                2 => WireAuth::Ah,
                other => WireAuth::Other(other, data),
            }
        }
    };
    Ok(Advert {
        version,
        kind: payload[0] & 0x0f,
        vrid: payload[1],
        priority: payload[2],
        interval,
        auth,
        addresses,
    })
}

/// The checksum field value for `payload` (whose checksum bytes are ignored).
pub fn checksum(
    version: Version,
    mode: ChecksumMode,
    src: IpAddr,
    dst: IpAddr,
    payload: &[u8],
) -> u16 {
    let mut acc = 0u32;
    if version == Version::V3 && mode == ChecksumMode::Standard {
        acc = pseudo_header_sum(src, dst, payload.len());
    }
    // Bytes 6..8 are the checksum itself: summed as zero.
    let (head, rest) = payload.split_at(payload.len().min(6));
    acc += sum_words(head);
    acc += sum_words(rest.get(2..).unwrap_or(&[]));
    fold(acc)
}

/// Sum of big-endian 16-bit words, an odd last byte padded with zero (the internet
/// checksum's accumulation, folded by [`fold`]).
fn sum_words(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|pair| (u32::from(pair[0]) << 8) | pair.get(1).map_or(0, |b| u32::from(*b)))
        .sum()
}

/// Whether the checksum in `payload` is right for `mode`.
pub fn checksum_ok(
    version: Version,
    mode: ChecksumMode,
    src: IpAddr,
    dst: IpAddr,
    payload: &[u8],
) -> bool {
    payload.len() >= HEADER_LEN
        && checksum(version, mode, src, dst, payload)
            == u16::from_be_bytes([payload[6], payload[7]])
}

fn pseudo_header_sum(src: IpAddr, dst: IpAddr, len: usize) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum_words(&s.octets())
                + sum_words(&d.octets())
                // zero, protocol, then the 16-bit VRRP length
                + sum_words(&[0, IPPROTO_VRRP])
                + sum_words(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes())
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(v) => v.octets(),
                IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
            };
            sum_words(&v6(s))
                + sum_words(&v6(d))
                // 32-bit upper-layer length, three zero bytes, next header
                + sum_words(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes())
                + sum_words(&[0, 0, 0, IPPROTO_VRRP])
        }
    }
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // acc <= 0xffff after folding.
    !(u16::try_from(acc).unwrap_or(u16::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Seed 000's advert as keepalived 2.2.7 sent it (captured in
    /// compat-tests/data/v2-unicast-pass.pcap, `tcpdump -x`): 21 65 65 01 01 02 cksum,
    /// 192.168.56.69, "mylittle".
    #[test]
    fn encodes_seed000s_advert_as_keepalived_does() {
        let advert = Advert {
            version: Version::V2,
            kind: TYPE_ADVERTISEMENT,
            vrid: 101,
            priority: 101,
            interval: 2,
            auth: WireAuth::pass(b"mylittlesecret"),
            addresses: vec![v4("192.168.56.69")],
        };
        let bytes = encode(
            &advert,
            v4("192.168.56.21"),
            v4("192.168.56.22"),
            ChecksumMode::Standard,
        )
        .unwrap();
        assert_eq!(&bytes[..6], &[0x21, 101, 101, 1, 1, 2]);
        assert_eq!(&bytes[8..12], &[192, 168, 56, 69]);
        assert_eq!(&bytes[12..], b"mylittle");
        assert!(checksum_ok(
            Version::V2,
            ChecksumMode::Standard,
            v4("1.2.3.4"),
            v4("5.6.7.8"),
            &bytes
        ));
        assert_eq!(decode(&bytes, Family::V4).unwrap(), advert);
    }

    #[test]
    fn v3_checksum_covers_the_pseudo_header_unless_as_v2() {
        let advert = Advert {
            version: Version::V3,
            kind: TYPE_ADVERTISEMENT,
            vrid: 51,
            priority: 100,
            interval: 100,
            auth: WireAuth::None,
            addresses: vec![v4("10.0.0.100"), v4("10.0.0.101")],
        };
        let (src, dst) = (v4("10.0.0.1"), v4("224.0.0.18"));
        let std = encode(&advert, src, dst, ChecksumMode::Standard).unwrap();
        assert!(checksum_ok(
            Version::V3,
            ChecksumMode::Standard,
            src,
            dst,
            &std
        ));
        // Another source: the pseudo-header differs, the checksum no longer matches.
        assert!(!checksum_ok(
            Version::V3,
            ChecksumMode::Standard,
            v4("10.0.0.2"),
            dst,
            &std
        ));
        let compat = encode(&advert, src, dst, ChecksumMode::V3AsV2).unwrap();
        assert!(checksum_ok(
            Version::V3,
            ChecksumMode::V3AsV2,
            v4("9.9.9.9"),
            dst,
            &compat
        ));
        assert_eq!(&std[4..6], &[0, 100]);
        assert_eq!(decode(&std, Family::V4).unwrap(), advert);
    }

    #[test]
    fn refuses_what_it_cannot_encode_and_short_or_long_payloads() {
        let mut advert = Advert {
            version: Version::V2,
            kind: 1,
            vrid: 1,
            priority: 100,
            interval: 300,
            auth: WireAuth::None,
            addresses: vec![v4("10.0.0.1")],
        };
        assert!(encode(
            &advert,
            v4("10.0.0.2"),
            v4("224.0.0.18"),
            ChecksumMode::Standard
        )
        .is_err());
        advert.interval = 1;
        let bytes = encode(
            &advert,
            v4("10.0.0.2"),
            v4("224.0.0.18"),
            ChecksumMode::Standard,
        )
        .unwrap();
        assert!(decode(&bytes[..bytes.len() - 1], Family::V4).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode(&long, Family::V4).is_err());
        assert!(decode(&bytes, Family::V6).is_err());
        advert.addresses.push("fe80::1".parse().unwrap());
        assert!(encode(
            &advert,
            v4("10.0.0.2"),
            v4("224.0.0.18"),
            ChecksumMode::Standard
        )
        .is_err());
    }
}
