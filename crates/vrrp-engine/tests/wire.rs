//! The codec and the receive checks against what the real keepalived 2.2.7 put on the wire
//! (captures in `compat-tests/data/`, made as its README says), and property tests: any
//! bytes are judged without panicking, and what we encode keepalived's checks accept.

mod common;
use common::{ipv4_packets, rx4};
use std::net::IpAddr;

use proptest::prelude::*;
use vrrp_engine::ah::SeqCounter;
use vrrp_engine::codec::{self, Advert, ChecksumMode, Family, Version, WireAuth};
use vrrp_engine::rx::{self, Auth, Expected, Received, Rejection};

/// [`rx::check`] for an instance without AH (a fresh AH counter each time).
fn check(e: &Expected, r: &Received<'_>, check_addresses: bool) -> Result<rx::Accepted, Rejection> {
    rx::check(e, r, check_addresses, &mut SeqCounter::default())
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn seed000_expected() -> Expected {
    Expected {
        name: "vi_1".into(),
        family: Family::V4,
        version: Version::V2,
        auth: Auth::pass(b"mylittlesecret"),
        interval_centis: 200,
        vips: vec![ip("192.168.56.69")],
        unicast_peers: vec![ip("192.168.56.21")],
        check_unicast_src: true,
        checksum_mode: ChecksumMode::Standard,
    }
}

#[test]
fn keepalived_v2_unicast_pass_adverts_are_accepted_and_reencode_identically() {
    let packets = ipv4_packets("v2-unicast-pass.pcap");
    let from_n1: Vec<&Vec<u8>> = packets
        .iter()
        .filter(|p| p[12..16] == [192, 168, 56, 21] && p[9] == 112)
        .collect();
    assert!(!from_n1.is_empty());
    for p in from_n1 {
        let accepted =
            check(&seed000_expected(), &rx4(p), true).expect("keepalived's own advert is accepted");
        assert_eq!(accepted.src, ip("192.168.56.21"));
        let a = &accepted.advert;
        assert_eq!((a.version, a.vrid, a.interval), (Version::V2, 101, 2));
        // Our encoding of the same advert is byte for byte keepalived's (checksum included).
        let ours = codec::encode(
            a,
            ip("192.168.56.21"),
            ip("192.168.56.22"),
            ChecksumMode::Standard,
        )
        .expect("encode");
        assert_eq!(ours, p[20..].to_vec(), "priority {}", a.priority);
    }
}

#[test]
fn keepalived_v3_adverts_reencode_identically_with_the_pseudo_header() {
    let packets = ipv4_packets("v3-multicast.pcap");
    assert!(!packets.is_empty());
    for p in &packets {
        let a = codec::decode(&p[20..], Family::V4).expect("decode");
        assert_eq!(
            (a.version, a.vrid, a.interval, a.addresses.len()),
            (Version::V3, 33, 100, 2)
        );
        let src = IpAddr::from([p[12], p[13], p[14], p[15]]);
        let ours =
            codec::encode(&a, src, ip("224.0.0.18"), ChecksumMode::Standard).expect("encode");
        assert_eq!(ours, p[20..].to_vec());
        let expected = Expected {
            name: "vi_3".into(),
            family: Family::V4,
            version: Version::V3,
            auth: Auth::None,
            interval_centis: 100,
            vips: vec![ip("192.168.56.31"), ip("192.168.56.32")],
            unicast_peers: vec![],
            check_unicast_src: false,
            checksum_mode: ChecksumMode::Standard,
        };
        check(&expected, &rx4(p), true).expect("accepted");
        // The same packet judged as `v3_checksum_as_v2` fails its checksum.
        let compat = Expected {
            checksum_mode: ChecksumMode::V3AsV2,
            ..expected
        };
        assert_eq!(
            check(&compat, &rx4(p), true),
            Err(Rejection::Checksum(Version::V3))
        );
    }
}

#[test]
fn rejections_come_in_keepalived_order_with_its_messages() {
    let packets = ipv4_packets("v2-unicast-pass.pcap");
    let p = packets
        .iter()
        .find(|p| p[12..16] == [192, 168, 56, 21] && p[9] == 112)
        .expect("a packet");
    let e = seed000_expected();
    let msg = |r: Result<rx::Accepted, Rejection>| {
        r.expect_err("rejected").message("vi_1").unwrap_or_default()
    };

    // Wrong password (keepalived logs this for a peer with another auth_pass).
    let other = Expected {
        auth: Auth::pass(b"otherpass"),
        ..e.clone()
    };
    assert_eq!(
        msg(check(&other, &rx4(p), true)),
        "(vi_1) received an invalid passwd!"
    );
    // Our advert_int 1 vs their 2: dropped silently.
    let fast = Expected {
        interval_centis: 100,
        ..e.clone()
    };
    let r = check(&fast, &rx4(p), true).expect_err("rejected");
    assert!(r.silent());
    assert_eq!(
        r.message("vi_1").unwrap_or_default(),
        "(vi_1) advertisement interval mismatch mine=1 sec rcv'd=2 sec"
    );
    // A flipped address byte: the checksum catches it (v2 checksum covers the payload).
    let mut bad = p.clone();
    bad[28] ^= 1;
    assert_eq!(
        msg(check(
            &Expected {
                vips: vec![IpAddr::from([192, 168, 56, 68])],
                ..e.clone()
            },
            &rx4(&bad),
            true
        )),
        "(vi_1) Invalid VRRPv2 checksum"
    );
    // Truncated by one byte.
    assert_eq!(
        msg(check(&e, &rx4(&p[..p.len() - 1]), true)),
        format!(
            "(vi_1) vrrp packet too short, length {} and expect {}",
            p.len() - 1,
            p.len()
        )
    );
    // A multicast instance receiving this unicast advert.
    let mc = Expected {
        unicast_peers: vec![],
        ..e.clone()
    };
    assert_eq!(
        msg(check(&mc, &rx4(p), true)),
        "(vi_1) Expected multicast packet but received unicast packet"
    );
    // Another VIP configured.
    let vip = Expected {
        vips: vec![ip("192.168.56.70")],
        ..e.clone()
    };
    assert_eq!(
        msg(check(&vip, &rx4(p), true)),
        "(vi_1) ip address associated with VRID 101 not present in MASTER advert: 192.168.56.70"
    );
    // A source that is not our peer, with check_unicast_src.
    let peer = Expected {
        unicast_peers: vec![ip("192.168.56.99")],
        ..e.clone()
    };
    assert_eq!(
        msg(check(&peer, &rx4(p), true)),
        "(vi_1) unicast source address 192.168.56.21 not a unicast peer"
    );
    // v3 instance: wrong version.
    let v3 = Expected {
        version: Version::V3,
        ..e
    };
    assert_eq!(
        msg(check(&v3, &rx4(p), true)),
        "(vi_1) wrong version. Received 2 and expect 3"
    );
}

#[test]
fn ah_packets_are_refused_by_a_pass_instance() {
    let packets = ipv4_packets("v2-multicast-ah.pcap");
    let p = packets.iter().find(|p| p[9] == 51).expect("an AH packet");
    let ah = Expected {
        name: "VI_1".into(),
        family: Family::V4,
        version: Version::V2,
        auth: Auth::ah(b"cuongquach"),
        interval_centis: 100,
        vips: vec![],
        unicast_peers: vec![],
        check_unicast_src: false,
        checksum_mode: ChecksumMode::Standard,
    };
    // Verification itself: tests/ipv4_ah.rs.
    let pass = Expected {
        auth: Auth::pass(b"x"),
        ..ah
    };
    assert_eq!(
        check(&pass, &rx4(p), true),
        Err(Rejection::AhMismatch { received_ah: true })
    );
}

fn advert_strategy() -> impl Strategy<Value = (Advert, IpAddr, IpAddr)> {
    (
        any::<bool>(),
        1u8..=255,
        any::<u8>(),
        1u16..=255,
        proptest::collection::vec(any::<[u8; 4]>(), 1..20),
        any::<[u8; 8]>(),
        any::<[u8; 4]>(),
    )
        .prop_map(|(v3, vrid, priority, interval, addrs, pass, src)| {
            let version = if v3 { Version::V3 } else { Version::V2 };
            let advert = Advert {
                version,
                kind: 1,
                vrid,
                priority,
                interval: if v3 { interval * 10 } else { interval },
                auth: if v3 {
                    WireAuth::None
                } else {
                    WireAuth::Pass(pass)
                },
                addresses: addrs.into_iter().map(IpAddr::from).collect(),
            };
            (advert, IpAddr::from(src), ip("224.0.0.18"))
        })
}

/// An IPv4 header (20 bytes, TTL 255, protocol 112) around `payload`.
fn ipv4(src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (src, dst) else {
        panic!("IPv4 addresses expected");
    };
    vrrp_engine::ipv4::build(
        &vrrp_engine::ipv4::Ipv4Fields::new(src, dst, 1),
        payload,
        None,
    )
    .expect("small packet")
}

proptest! {
    #[test]
    fn what_we_encode_decodes_back_and_passes_the_checks((advert, src, dst) in advert_strategy()) {
        let bytes = codec::encode(&advert, src, dst, ChecksumMode::Standard).expect("encodable");
        prop_assert_eq!(codec::decode(&bytes, Family::V4).expect("decodes"), advert.clone());
        let expected = Expected {
            name: "p".into(),
            family: Family::V4,
            version: advert.version,
            auth: match advert.auth {
                WireAuth::Pass(data) => Auth::Pass(data),
                _ => Auth::None,
            },
            interval_centis: advert.interval_centis(),
            vips: advert.addresses.clone(),
            unicast_peers: vec![],
            check_unicast_src: false,
            checksum_mode: ChecksumMode::Standard,
        };
        let packet = ipv4(src, dst, &bytes);
        let accepted = check(&expected, &rx4(&packet), true).expect("accepted");
        prop_assert_eq!(accepted.advert, advert);
    }

    #[test]
    fn any_bytes_are_judged_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..120), family6 in any::<bool>()) {
        let e = Expected { family: if family6 { Family::V6 } else { Family::V4 }, ..seed000_expected() };
        let rx = Received { bytes: &bytes, v6_addrs: Some((ip("fe80::1"), ip("ff02::12"))), v6_hop_limit: Some(255), v6_multicast: true };
        let _ = check(&e, &rx, true);
        let _ = codec::decode(&bytes, Family::V4);
        let _ = codec::decode(&bytes, Family::V6);
    }

    #[test]
    fn mutated_real_adverts_never_panic_and_a_flipped_bit_is_never_accepted_unchanged(idx in 0usize..40, bit in 0u8..8) {
        let packets = ipv4_packets("v2-unicast-pass.pcap");
        let p = packets.iter().find(|p| p[12..16] == [192, 168, 56, 21] && p[9] == 112).expect("a packet");
        let mut m = p.clone();
        let i = idx % m.len();
        m[i] ^= 1 << bit;
        if let Ok(acc) = check(&seed000_expected(), &rx4(&m), true) {
            // Only bits the checks do not cover may change (IP header fields keepalived
            // does not read, such as the id or the IP checksum), and then the advert is
            // the original one.
            let orig = check(&seed000_expected(), &rx4(p), true).expect("original accepted");
            prop_assert_eq!(acc.advert, orig.advert);
        }
    }
}
