//! Helpers shared by the integration tests: the captured keepalived packets and a received
//! IPv4 packet as a raw socket hands it over.

// Not every test file uses every helper.
#![allow(dead_code)]

pub mod sync_lab;

use vrrp_engine::rx::Received;

/// The IPv4 packets (Ethernet frames with protocol 112 or 51) of a classic little-endian
/// pcap in `compat-tests/data`. Enough pcap for the fixtures: they are all Ethernet,
/// microsecond, little-endian.
pub fn ipv4_packets(file: &str) -> Vec<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../compat-tests/data")
        .join(file);
    let d = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian µs pcap");
    assert_eq!(
        u32::from_le_bytes([d[20], d[21], d[22], d[23]]),
        1,
        "Ethernet"
    );
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= d.len() {
        let caplen = u32::from_le_bytes([d[at + 8], d[at + 9], d[at + 10], d[at + 11]]) as usize;
        let frame = &d[at + 16..at + 16 + caplen];
        at += 16 + caplen;
        if frame.len() > 34 && frame[12..14] == [0x08, 0x00] && matches!(frame[23], 112 | 51) {
            out.push(frame[14..].to_vec());
        }
    }
    out
}

/// A received IPv4 packet (the whole packet, header included).
pub fn rx4(bytes: &[u8]) -> Received<'_> {
    Received {
        bytes,
        v6_addrs: None,
        v6_hop_limit: None,
        v6_multicast: false,
    }
}
