//! The whole IPv4 packet keepalived 2.2.7 sends on its `IP_HDRINCL` raw socket:
//! `vrrp_build_ip4()` (`vrrp.c:1161-1195`), the id set per advert by `vrrp_update_pkt()`
//! (`vrrp.c:417-421`), and for `auth_type AH` the AH header and ICV
//! (`vrrp_build_ipsecah()`, `vrrp_update_pkt()`). Pure.
//!
//! The header: version 4, IHL 5 (no options), TOS 0xc0 (internetwork control), total
//! length, id, flags/fragment offset 0 (DF clear), TTL (255, or `unicast_ttl`), protocol 112
//! (51 with AH), checksum, source, destination. keepalived leaves the checksum 0 and the
//! kernel fills it in (`IP_HDRINCL` always does); [`build`] fills it in as the kernel does,
//! so the result is what is on the wire.

use std::net::Ipv4Addr;

use crate::ah::{self, AhSeal};
use crate::codec::{AH_LEN, IPPROTO_AH, IPPROTO_VRRP, VRRP_TTL};
use crate::error::VrrpError;

/// Length of the IPv4 header keepalived builds (no options).
pub const HEADER_LEN: usize = 20;
/// keepalived's TOS: 0xc0, "internet network control" (`vrrp.c:1169`).
pub const TOS: u8 = 0xc0;

/// The per-packet IPv4 fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Fields {
    /// Source: the instance's address (`mcast_src_ip`/`unicast_src_ip` or the interface's).
    pub src: Ipv4Addr,
    /// Destination: 224.0.0.18 (or `mcast_dst_address`), or the unicast peer.
    pub dst: Ipv4Addr,
    /// The IP id: keepalived counts from 1 per instance, skipping 0 on wrap (the kernel
    /// would replace a 0).
    pub id: u16,
    /// TTL: [`VRRP_TTL`] unless `unicast_ttl` is configured.
    pub ttl: u8,
}

impl Ipv4Fields {
    /// Fields with keepalived's default TTL of 255.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, id: u16) -> Ipv4Fields {
        Ipv4Fields {
            src,
            dst,
            id,
            ttl: VRRP_TTL,
        }
    }
}

/// The next IP id after `id` as keepalived counts (`if (!++vrrp->ip_id) ++vrrp->ip_id;`).
pub fn next_id(id: u16) -> u16 {
    match id.wrapping_add(1) {
        0 => 1,
        n => n,
    }
}

/// The RFC 1071 checksum of an IPv4 header (checksum field included as it is).
pub fn header_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in header.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        let lo = pair.get(1).copied().map_or(0, u32::from);
        sum += hi | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves sum <= 0xffff.
    !(sum as u16)
}

/// Builds the IPv4 packet keepalived sends around a VRRP `payload` (from
/// [`crate::codec::encode`]), with the AH header and its ICV when `ah` is given (then
/// protocol 51, SPI = `src`, the payload's v2 auth type must already be 2).
///
/// Errors when the packet would exceed 65535 bytes.
pub fn build(
    fields: &Ipv4Fields,
    payload: &[u8],
    ah: Option<&AhSeal>,
) -> Result<Vec<u8>, VrrpError> {
    let ah_len = if ah.is_some() { AH_LEN } else { 0 };
    let total = u16::try_from(HEADER_LEN + ah_len + payload.len())
        .map_err(|_| VrrpError::Encode("IPv4 packet over 65535 bytes".into()))?;
    let mut p = Vec::with_capacity(usize::from(total));
    p.push(0x45); // version 4, IHL 5
    p.push(TOS);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&fields.id.to_be_bytes());
    p.extend_from_slice(&[0, 0]); // flags / fragment offset
    p.push(fields.ttl);
    p.push(if ah.is_some() {
        IPPROTO_AH
    } else {
        IPPROTO_VRRP
    });
    p.extend_from_slice(&[0, 0]); // checksum, below
    p.extend_from_slice(&fields.src.octets());
    p.extend_from_slice(&fields.dst.octets());
    if let Some(seal) = ah {
        p.extend_from_slice(&ah::header(fields.src.octets(), seal.seq));
    }
    p.extend_from_slice(payload);
    if let Some(seal) = ah {
        // The ICV is computed with the checksum still 0, as in keepalived's buffer.
        ah::seal(&mut p, &seal.key, seal.unicast)?;
    }
    let check = header_checksum(&p[..HEADER_LEN]);
    p[10..12].copy_from_slice(&check.to_be_bytes());
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_skip_zero() {
        assert_eq!(next_id(0), 1);
        assert_eq!(next_id(41), 42);
        assert_eq!(next_id(u16::MAX), 1);
    }

    #[test]
    fn a_built_header_sums_to_zero() {
        let f = Ipv4Fields::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(224, 0, 0, 18), 7);
        let p = build(&f, &[0x21, 1, 100, 0, 0, 1, 0, 0], None).expect("small");
        assert_eq!(header_checksum(&p[..HEADER_LEN]), 0);
        assert_eq!(
            &p[..12],
            &[0x45, 0xc0, 0, 28, 0, 7, 0, 0, 255, 112, p[10], p[11]]
        );
    }
}
