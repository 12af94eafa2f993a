//! Arbitrary bytes into keepalived's receive checks (v2/v3, IPv4/IPv6, none/PASS/AH,
//! multicast/unicast) and into the codec: nothing may panic, and an AH packet that is
//! accepted must verify under the instance's key.
//!
//! `cargo +nightly fuzz run rx_check` from `crates/vrrp-engine`.

#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use vrrp_engine::ah::{self, Key, SeqCounter};
use vrrp_engine::codec::{self, ChecksumMode, Family, Version};
use vrrp_engine::rx::{self, Auth, Expected, Received};

fuzz_target!(|data: &[u8]| {
    // First byte: the expectation; next four: the AH counter; the rest: the packet.
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (counter, bytes) = if rest.len() >= 4 {
        let (c, b) = rest.split_at(4);
        (u32::from_be_bytes([c[0], c[1], c[2], c[3]]), b)
    } else {
        (0, rest)
    };
    let family = if sel & 1 == 0 { Family::V4 } else { Family::V6 };
    let version = if sel & 2 == 0 {
        Version::V2
    } else {
        Version::V3
    };
    let auth = match (sel >> 2) & 3 {
        0 => Auth::None,
        1 => Auth::pass(b"mylittlesecret"),
        _ => Auth::ah(b"cuongquach"),
    };
    let unicast = sel & 0x10 != 0;
    let (v4, v6): (Vec<IpAddr>, Vec<IpAddr>) = (
        vec![IpAddr::from([192, 168, 56, 50])],
        vec![IpAddr::from([0xfd00, 0x56, 0, 0, 0, 0, 0, 0x66])],
    );
    let expected = Expected {
        name: "VI_1".into(),
        family,
        version,
        auth: auth.clone(),
        interval_centis: 100,
        vips: if family == Family::V4 { v4 } else { v6 },
        unicast_peers: if unicast {
            vec![IpAddr::from([192, 168, 56, 21])]
        } else {
            vec![]
        },
        check_unicast_src: sel & 0x20 != 0,
        checksum_mode: if sel & 0x40 == 0 {
            ChecksumMode::Standard
        } else {
            ChecksumMode::V3AsV2
        },
    };
    let received = Received {
        bytes,
        v6_addrs: Some((
            IpAddr::from([0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x21]),
            IpAddr::from([0xff02, 0, 0, 0, 0, 0, 0, 0x12]),
        )),
        v6_hop_limit: Some(255),
        v6_multicast: !unicast,
    };
    let check_addresses = sel & 0x80 == 0;
    let mut c = SeqCounter {
        seq: counter,
        cycle: false,
    };
    let verdict = rx::check(&expected, &received, check_addresses, &mut c);
    if let Ok(accepted) = &verdict {
        if let (Auth::Ah(key), Family::V4, Version::V2) = (&auth, family, version) {
            assert!(ah::verify(bytes, key, unicast).is_ok());
            assert_eq!(accepted.ah_seq, Some(c.seq));
            assert!(c.seq > counter);
        }
    }
    if let Err(r) = &verdict {
        let _ = r.message("VI_1");
        let _ = r.counter();
    }
    let _ = codec::decode(bytes, Family::V4);
    let _ = codec::decode(bytes, Family::V6);
    let key = Key::from_auth_pass(b"cuongquach");
    let _ = ah::verify(bytes, &key, unicast);
    let _ = ah::AhHeader::parse(bytes);
});
