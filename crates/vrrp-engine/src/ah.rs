//! keepalived's IPsec AH for VRRPv2 over IPv4 (`auth_type AH`): an RFC 2402 style AH
//! header between the IPv4 header and the VRRP payload, authenticated with HMAC-MD5-96.
//! Pure: bytes in, bytes out.
//!
//! ```text
//! | Next Header (112) | Payload Len (4) |        Reserved (0)          |
//! |              SPI = the IPv4 source address (network order)         |
//! |                      Sequence Number                               |
//! |               ICV: HMAC-MD5 truncated to 96 bits                   |
//! ```
//!
//! What keepalived 2.2.7 authenticates (`vrrp_update_pkt()` on send, `vrrp.c:481-498`;
//! `vrrp_in_chk_ipsecah()` on receive, `vrrp.c:536-597`): HMAC-MD5 keyed with the 8 bytes
//! of `auth_pass` (truncated, zero padded: `vrrp_parser.c:1439-1453`) over the IPv4 header
//! with TOS, flags/fragment offset and header checksum zeroed, and TTL zeroed **only for
//! unicast instances** (multicast keeps TTL 255 in the ICV, unlike RFC 4302), then the AH
//! header with a zero ICV, then the VRRP payload. The IP id and total length are covered.
//!
//! # Sequence numbers (for the state machine)
//!
//! keepalived keeps one counter per instance, `ipsecah_counter = { seq_number, cycle }`
//! ([`SeqCounter`]), zero at start, and never resets it on a state change except as below:
//!
//! - **Send** (`vrrp_update_pkt()`, `vrrp.c:459-480`): before each advert the counter is
//!   incremented and the new value is sent ([`SeqCounter::next_for_send`]); so the first
//!   advert carries 1. At `> 0xFFFF_FFFD` it stops incrementing and sets `cycle` (the same
//!   number is sent again). Unicast: one increment per advert, the same number to every peer.
//! - **Receive** (`vrrp_in_chk_ipsecah()`, `vrrp.c:583-594`), in MASTER and BACKUP alike,
//!   after the ICV and SPI checks: a sequence number not greater than the counter is
//!   rejected ("already processed", [`check_sequence`]); a greater one *becomes* the counter,
//!   and this happens before the remaining checks of `vrrp_check_packet()` (interval, type,
//!   count, length, checksum, addresses), so even a packet refused later has moved the
//!   counter ([`crate::rx::check`] updates it in place at that point). There is one counter
//!   for all peers: a backup therefore follows the master's numbers, and when it becomes
//!   master its first advert carries the last master's number + 1 ("seq continues across
//!   nodes", as the capture `v2-multicast-ah.pcap` shows).
//! - BACKUP: a packet that passed the sequence check also clears `cycle` (`vrrp.c:936-938`;
//!   observable as `rx::check` having raised `counter.seq`).
//! - MASTER receiving a valid advert of lower priority (or equal priority and lower address):
//!   logs `"({name}) IPSEC-AH : Syncing seq_num - Increment seq"`, sets the counter to the
//!   advert's sequence number + 1 and clears `cycle` (`vrrp.c:2140-2149`; the reply advert
//!   then carries that + 1 again). MASTER receiving a higher-priority advert clears `cycle`
//!   (`vrrp.c:2203-2206`).
//! - Becoming MASTER (`vrrp_state_goto_master()`, `vrrp.c:1717-1723`): only if `cycle` is
//!   set, the counter restarts from 0 and `cycle` is cleared. Otherwise nothing is reset.
//! - Reload keeps the counter (`restore_vrrp_state()`, `vrrp.c:4870-4873`).

use hmac::{Hmac, Mac};
use md5::Md5;

use crate::codec::{AH_LEN, IPPROTO_AH, IPPROTO_VRRP};
use crate::error::VrrpError;

/// Length of the truncated ICV (HMAC-MD5-96): keepalived's `HMAC_MD5_TRUNC`.
pub const ICV_LEN: usize = 12;
/// The AH payload length field: 32-bit words minus 2 (`IPSEC_AH_PLEN`).
pub const PAYLOAD_LEN_FIELD: u8 = 4;
/// Length of the key: keepalived's `auth_data`, the first 8 bytes of `auth_pass`.
pub const KEY_LEN: usize = 8;

/// keepalived's AH key: `auth_pass` truncated to 8 bytes, zero padded. `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key([u8; KEY_LEN]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// The key for a configured `auth_pass`, as keepalived stores it (first 8 bytes, zero
    /// padded; keepalived logs "Truncating auth_pass to 8 characters" for longer ones).
    pub fn from_auth_pass(password: &[u8]) -> Key {
        let mut k = [0u8; KEY_LEN];
        for (d, b) in k.iter_mut().zip(password) {
            *d = *b;
        }
        Key(k)
    }

    /// The 8 key bytes (keepalived always keys the HMAC with all 8, padding included).
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// HMAC-MD5 (RFC 2104) of the concatenation of `parts` under `key`: keepalived's
/// `hmac_md5()` (`vrrp_ipsecah.c`), keys over 64 bytes hashed first.
pub fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length (RFC 2104 section 2): new_from_slice cannot fail.
    #[allow(clippy::expect_used)]
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// A parsed AH header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AhHeader {
    /// Next header (112 for VRRP).
    pub next_header: u8,
    /// Payload length field (4).
    pub payload_len: u8,
    /// Reserved (0).
    pub reserved: u16,
    /// SPI: keepalived puts the IPv4 source address there (network order).
    pub spi: [u8; 4],
    /// Sequence number.
    pub seq: u32,
    /// The 96-bit ICV.
    pub icv: [u8; ICV_LEN],
}

impl AhHeader {
    /// Reads the first [`AH_LEN`] bytes of `b`; `None` when shorter.
    pub fn parse(b: &[u8]) -> Option<AhHeader> {
        let b = b.get(..AH_LEN)?;
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(&b[12..AH_LEN]);
        Some(AhHeader {
            next_header: b[0],
            payload_len: b[1],
            reserved: u16::from_be_bytes([b[2], b[3]]),
            spi: [b[4], b[5], b[6], b[7]],
            seq: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            icv,
        })
    }
}

/// What is needed to seal an outgoing packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AhSeal {
    /// The instance's key.
    pub key: Key,
    /// The sequence number to send ([`SeqCounter::next_for_send`]).
    pub seq: u32,
    /// Whether the instance is unicast (then TTL is zeroed in the ICV too).
    pub unicast: bool,
}

/// Computes the ICV of a whole IPv4 packet `packet` (IPv4 header of `ihl` bytes, the AH
/// header, the VRRP payload) as keepalived does: TOS, flags/fragment offset, header
/// checksum (and TTL if `unicast`) zeroed, the ICV field zeroed.
///
/// Errors when `packet` is shorter than `ihl` + the AH header or `ihl` is under 20.
pub fn icv(
    key: &Key,
    packet: &[u8],
    ihl: usize,
    unicast: bool,
) -> Result<[u8; ICV_LEN], VrrpError> {
    if ihl < 20 || packet.len() < ihl + AH_LEN {
        return Err(VrrpError::Decode(format!(
            "AH packet of {} bytes with a {ihl}-byte IPv4 header",
            packet.len()
        )));
    }
    // keepalived's tmp_buf: the IP header (options included) and the AH header.
    let mut head = packet[..ihl + AH_LEN].to_vec();
    head[1] = 0; // TOS
    head[6] = 0; // flags + fragment offset
    head[7] = 0;
    if unicast {
        head[8] = 0; // TTL, unicast only (vrrp.c:488-489, 557-558)
    }
    head[10] = 0; // header checksum (0 in keepalived's send buffer: the kernel fills it)
    head[11] = 0;
    for b in &mut head[ihl + 12..] {
        *b = 0; // the ICV itself
    }
    let digest = hmac_md5(key.bytes(), &[&head, &packet[ihl + AH_LEN..]]);
    let mut out = [0u8; ICV_LEN];
    out.copy_from_slice(&digest[..ICV_LEN]);
    Ok(out)
}

/// Writes the ICV into a built IPv4+AH packet (what [`crate::ipv4::build`] does last).
pub fn seal(packet: &mut [u8], key: &Key, unicast: bool) -> Result<(), VrrpError> {
    let ihl = usize::from(packet.first().copied().unwrap_or(0) & 0x0f) * 4;
    let icv = icv(key, packet, ihl, unicast)?;
    packet[ihl + 12..ihl + AH_LEN].copy_from_slice(&icv);
    Ok(())
}

/// Why [`verify`] refused a packet (messages: [`crate::rx::Rejection`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// Too short for an IPv4 and an AH header.
    Truncated,
    /// The ICV does not match (wrong key, or a field changed).
    Icv,
    /// The SPI is not the source address.
    Spi {
        /// The IPv4 source address.
        saddr: [u8; 4],
        /// The SPI.
        spi: [u8; 4],
    },
}

/// Verifies a received IPv4+AH packet in keepalived's order: the ICV (compared in constant
/// time), then SPI == source address. Returns the AH header (its `seq` is then for
/// [`check_sequence`]).
pub fn verify(packet: &[u8], key: &Key, unicast: bool) -> Result<AhHeader, VerifyError> {
    let ihl = usize::from(packet.first().copied().unwrap_or(0) & 0x0f) * 4;
    let ah = packet
        .get(ihl..)
        .and_then(AhHeader::parse)
        .ok_or(VerifyError::Truncated)?;
    let want = icv(key, packet, ihl, unicast).map_err(|_| VerifyError::Truncated)?;
    let diff = want
        .iter()
        .zip(ah.icv.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(VerifyError::Icv);
    }
    let saddr = [packet[12], packet[13], packet[14], packet[15]];
    if ah.spi != saddr {
        return Err(VerifyError::Spi { saddr, spi: ah.spi });
    }
    Ok(ah)
}

/// The AH header keepalived sends before the VRRP payload (ICV zero until sealed).
pub fn header(src: [u8; 4], seq: u32) -> [u8; AH_LEN] {
    let mut h = [0u8; AH_LEN];
    h[0] = IPPROTO_VRRP;
    h[1] = PAYLOAD_LEN_FIELD;
    h[4..8].copy_from_slice(&src);
    h[8..12].copy_from_slice(&seq.to_be_bytes());
    h
}

/// keepalived's per-instance `ipsecah_counter` (see the module documentation for what the
/// state machine does with it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqCounter {
    /// The last sequence number sent or accepted (`seq_number`).
    pub seq: u32,
    /// Set when the counter reached its end (`cycle`): it then restarts from 0 on the next
    /// transition to MASTER.
    pub cycle: bool,
}

impl SeqCounter {
    /// The sequence number for the next advert (`vrrp.c:473-479`): incremented first, so
    /// the first is 1; past `0xFFFF_FFFD` it sets `cycle` and repeats the same number.
    pub fn next_for_send(&mut self) -> u32 {
        if self.seq > 0xFFFF_FFFD {
            self.cycle = true;
        } else {
            self.seq += 1;
        }
        self.seq
    }

    /// keepalived's anti-replay check (`vrrp.c:586-594`): see [`check_sequence`]; on success
    /// the counter becomes `received`.
    pub fn accept(&mut self, received: u32) -> Result<(), SequenceReplay> {
        self.seq = check_sequence(received, self.seq)?;
        Ok(())
    }
}

/// A sequence number not above the local counter: keepalived drops the packet with
/// `"({name}) IPSEC-AH : sequence number {received} already processed. Packet dropped.
/// Local({local})"` (see [`crate::rx::Rejection::AhSequence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceReplay {
    /// The packet's sequence number.
    pub received: u32,
    /// The local counter.
    pub local: u32,
}

/// keepalived's anti-replay rule: a received sequence number must be strictly greater than
/// the local counter (`vrrp.c:586`); returns the new counter (the received number).
pub fn check_sequence(received: u32, local: u32) -> Result<u32, SequenceReplay> {
    if received > local {
        Ok(received)
    } else {
        Err(SequenceReplay { received, local })
    }
}

/// Whether an IPv4 header says AH (protocol 51).
pub fn is_ah(ipv4_header: &[u8]) -> bool {
    ipv4_header.get(9) == Some(&IPPROTO_AH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// RFC 2202 section 2: the seven HMAC-MD5 test cases.
    #[test]
    fn rfc2202_hmac_md5_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 7] = [
            (
                vec![0x0b; 16],
                b"Hi There".to_vec(),
                "9294727a3638bb1c13f48ef8158bfc9d",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "750c783e6ab0b503eaa86e310a5db738",
            ),
            (
                vec![0xaa; 16],
                vec![0xdd; 50],
                "56be34521d144c88dbb8c733f0e8b3f6",
            ),
            (
                (1u8..=25).collect(),
                vec![0xcd; 50],
                "697eaf0aca3a3aea3a75164746ffaa79",
            ),
            (
                vec![0x0c; 16],
                b"Test With Truncation".to_vec(),
                "56461ef2342edc00f9bab995690efd4c",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"
                    .to_vec(),
                "6f630fad67cda0ee1fb1f562db3aa53e",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hex(&hmac_md5(&key, &[&data])), want);
            // Split input: the same digest (keepalived hashes header and payload apart).
            let (a, b) = data.split_at(data.len() / 2);
            assert_eq!(hex(&hmac_md5(&key, &[a, b])), want);
        }
        // Test case 5's HMAC-MD5-96: the first 12 bytes.
        assert_eq!(
            hex(&hmac_md5(&[0x0c; 16], &[b"Test With Truncation"])[..ICV_LEN]),
            "56461ef2342edc00f9bab995"
        );
    }

    #[test]
    fn the_key_is_eight_bytes_zero_padded() {
        assert_eq!(Key::from_auth_pass(b"cuongquach").bytes(), b"cuongqua");
        assert_eq!(Key::from_auth_pass(b"ab").bytes(), b"ab\0\0\0\0\0\0");
        assert_eq!(format!("{:?}", Key::from_auth_pass(b"secret")), "Key(..)");
    }

    #[test]
    fn sequence_numbers_as_keepalived_counts_them() {
        let mut c = SeqCounter::default();
        assert_eq!((c.next_for_send(), c.next_for_send()), (1, 2));
        assert_eq!(
            c.accept(2),
            Err(SequenceReplay {
                received: 2,
                local: 2
            })
        );
        assert_eq!(c.accept(7), Ok(()));
        assert_eq!(c.next_for_send(), 8);
        let mut end = SeqCounter {
            seq: 0xFFFF_FFFD,
            cycle: false,
        };
        assert_eq!(end.next_for_send(), 0xFFFF_FFFE);
        assert!(!end.cycle);
        assert_eq!(end.next_for_send(), 0xFFFF_FFFE);
        assert!(end.cycle);
    }
}
