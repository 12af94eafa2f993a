//! The whole IPv4 packet and keepalived's IPsec AH against what the real keepalived 2.2.7
//! put on the wire (captures in `compat-tests/data/`, see its README): every captured
//! IPv4 advert is rebuilt byte for byte from its decoded payload, id and AH sequence
//! number; the AH captures verify, and their sequence numbers continue across nodes as
//! [`SeqCounter`] says. Property tests: random and mutated AH packets never panic, and a
//! sealed packet with any covered bit changed never verifies.

mod common;
use common::{ipv4_packets, rx4};
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use vrrp_engine::ah::{self, AhSeal, Key, SeqCounter};
use vrrp_engine::codec::{self, Advert, ChecksumMode, Family, Version, WireAuth};
use vrrp_engine::ipv4::{self, Ipv4Fields};
use vrrp_engine::rx::{self, Auth, Expected, Received, Rejection};

fn v4(p: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(p[at], p[at + 1], p[at + 2], p[at + 3])
}

/// advcap-n2's instance of `v2-multicast-ah-n2.conf`.
fn ah_expected() -> Expected {
    Expected {
        name: "VI_1".into(),
        family: Family::V4,
        version: Version::V2,
        auth: Auth::ah(b"cuongquach"),
        interval_centis: 100,
        vips: vec![IpAddr::from([192, 168, 56, 50])],
        unicast_peers: vec![],
        check_unicast_src: false,
        checksum_mode: ChecksumMode::Standard,
    }
}

fn ah_packets() -> Vec<Vec<u8>> {
    let packets = ipv4_packets("v2-multicast-ah.pcap");
    assert!(packets.len() >= 4 && packets.iter().all(|p| p[9] == 51));
    packets
}

fn msg(r: Result<rx::Accepted, Rejection>) -> String {
    r.expect_err("rejected").message("VI_1").unwrap_or_default()
}

#[test]
fn every_captured_keepalived_ipv4_packet_is_rebuilt_byte_for_byte() {
    let mut rebuilt = 0;
    for file in [
        "v2-unicast-pass.pcap",
        "v2-multicast-ah.pcap",
        "v3-multicast.pcap",
    ] {
        for p in ipv4_packets(file) {
            let has_ah = p[9] == 51;
            let start = if has_ah { 20 + codec::AH_LEN } else { 20 };
            let (src, dst) = (v4(&p, 12), v4(&p, 16));
            let advert = codec::decode(&p[start..], Family::V4).expect("decodes");
            let payload = codec::encode(
                &advert,
                IpAddr::V4(src),
                IpAddr::V4(dst),
                ChecksumMode::Standard,
            )
            .expect("encodes");
            // Only the id and the AH sequence number come from the capture: TOS, TTL 255,
            // flags, lengths, protocol, checksum, SPI and ICV are ours.
            let fields = Ipv4Fields::new(src, dst, u16::from_be_bytes([p[4], p[5]]));
            let seal = has_ah.then(|| AhSeal {
                key: Key::from_auth_pass(b"cuongquach"),
                seq: u32::from_be_bytes([p[28], p[29], p[30], p[31]]),
                unicast: false,
            });
            let ours = ipv4::build(&fields, &payload, seal.as_ref()).expect("builds");
            assert_eq!(ours, p, "{file}: packet {rebuilt}");
            rebuilt += 1;
        }
    }
    assert!(rebuilt >= 20, "{rebuilt} packets");
}

#[test]
fn keepalived_ids_count_from_one_per_process() {
    let packets = ah_packets();
    let mut last: Option<(Ipv4Addr, u16)> = None;
    for p in &packets {
        let (src, id) = (v4(p, 12), u16::from_be_bytes([p[4], p[5]]));
        match last {
            Some((s, prev)) if s == src => assert_eq!(id, ipv4::next_id(prev)),
            _ => assert_eq!(id, 1),
        }
        last = Some((src, id));
    }
}

#[test]
fn captured_ah_adverts_verify_and_sequence_numbers_continue_across_nodes() {
    // advcap-n2's view: it receives n1's adverts as backup, then sends its own as master.
    let packets = ah_packets();
    let n2 = Ipv4Addr::new(192, 168, 56, 22);
    let mut counter = SeqCounter::default();
    let (mut received, mut sent) = (0, 0);
    for p in &packets {
        let seq = u32::from_be_bytes([p[28], p[29], p[30], p[31]]);
        if v4(p, 12) == n2 {
            assert_eq!(counter.next_for_send(), seq, "n2 continues n1's numbers");
            sent += 1;
        } else {
            let acc = rx::check(&ah_expected(), &rx4(p), true, &mut counter).expect("accepted");
            assert_eq!(acc.ah_seq, Some(seq));
            assert_eq!(counter.seq, seq);
            // The same packet again is a replay.
            let mut again = counter;
            assert_eq!(
                msg(rx::check(&ah_expected(), &rx4(p), true, &mut again)),
                format!(
                    "(VI_1) IPSEC-AH : sequence number {seq} already processed. Packet dropped. Local({seq})"
                )
            );
            assert_eq!(again, counter);
            received += 1;
        }
    }
    assert!(received >= 2 && sent >= 2);
}

#[test]
fn the_icv_zeroes_tos_flags_and_checksum_but_covers_ttl_for_multicast() {
    let p = &ah_packets()[0];
    let key = Key::from_auth_pass(b"cuongquach");
    assert!(ah::verify(p, &key, false).is_ok());
    // Zeroed by keepalived: TOS, flags/fragment offset, header checksum.
    for byte in [1, 6, 7, 10, 11] {
        let mut m = p.clone();
        m[byte] ^= 0x40;
        assert!(ah::verify(&m, &key, false).is_ok(), "byte {byte}");
    }
    // TTL is covered for multicast (the capture's ICV was computed with TTL 255)...
    let mut m = p.clone();
    m[8] = 64;
    assert_eq!(ah::verify(&m, &key, false), Err(ah::VerifyError::Icv));
    assert_eq!(ah::verify(p, &key, true), Err(ah::VerifyError::Icv));
    // ... and so are the id, lengths, protocol, addresses, AH fields and the payload.
    for byte in [0, 2, 3, 4, 5, 9, 12, 16, 20, 21, 24, 28, 32, 44, 50, 60] {
        let mut m = p.clone();
        m[byte] ^= 1;
        assert!(ah::verify(&m, &key, false).is_err(), "byte {byte}");
    }
}

#[test]
fn ah_rejections_with_keepalived_messages_in_its_order() {
    let p = &ah_packets()[0];
    let mut counter = SeqCounter::default();
    // Another auth_pass: the ICV fails; the counter does not move.
    let other = Expected {
        auth: Auth::ah(b"otherpas"),
        ..ah_expected()
    };
    let r = rx::check(&other, &rx4(p), true, &mut counter);
    assert_eq!(r, Err(Rejection::AhIcv));
    assert_eq!(r.expect_err("rejected").counter(), "auth_failure");
    assert_eq!(
        msg(rx::check(&other, &rx4(p), true, &mut counter)),
        "(VI_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
    );
    assert_eq!(counter, SeqCounter::default());
    // Only the first 8 bytes of auth_pass count.
    let long = Expected {
        auth: Auth::ah(b"cuongquachXYZ"),
        ..ah_expected()
    };
    assert!(rx::check(&long, &rx4(p), true, &mut SeqCounter::default()).is_ok());

    // A valid ICV over an SPI that is not the source address.
    let mut m = p.clone();
    m[24..28].copy_from_slice(&[10, 0, 0, 1]);
    ah::seal(&mut m, &Key::from_auth_pass(b"cuongquach"), false).expect("seal");
    assert_eq!(
        msg(rx::check(&ah_expected(), &rx4(&m), true, &mut counter)),
        format!(
            "IPSEC AH : invalid IPSEC SPI value. {} and expect {}",
            u32::from_le_bytes([192, 168, 56, 21]),
            u32::from_le_bytes([10, 0, 0, 1])
        )
    );

    // Next header not VRRP: silently dropped, before the ICV.
    let mut m = p.clone();
    m[20] = 6;
    let r = rx::check(&ah_expected(), &rx4(&m), true, &mut counter).expect_err("dropped");
    assert!(r.silent());

    // Interval mismatch comes after the AH checks: keepalived has already moved the
    // counter when it drops the packet.
    let slow = Expected {
        interval_centis: 200,
        ..ah_expected()
    };
    let mut counter = SeqCounter::default();
    assert!(matches!(
        rx::check(&slow, &rx4(p), true, &mut counter),
        Err(Rejection::Interval { .. })
    ));
    assert_eq!(counter.seq, 1);

    // AH configured, plain VRRP received (and the reverse: tests/wire.rs).
    let plain = &ipv4_packets("v3-multicast.pcap")[0];
    assert_eq!(
        msg(rx::check(&ah_expected(), &rx4(plain), true, &mut counter)),
        "(VI_1) No AH header but auth type is AH"
    );
}

fn unicast_ah_expected() -> Expected {
    Expected {
        unicast_peers: vec![IpAddr::from([192, 168, 56, 21])],
        check_unicast_src: true,
        ..ah_expected()
    }
}

fn sealed(advert: &Advert, fields: &Ipv4Fields, seq: u32, unicast: bool) -> Vec<u8> {
    let payload = codec::encode(
        advert,
        IpAddr::V4(fields.src),
        IpAddr::V4(fields.dst),
        ChecksumMode::Standard,
    )
    .expect("encodes");
    let seal = AhSeal {
        key: Key::from_auth_pass(b"cuongquach"),
        seq,
        unicast,
    };
    ipv4::build(fields, &payload, Some(&seal)).expect("builds")
}

fn vi1_advert() -> Advert {
    Advert {
        version: Version::V2,
        kind: 1,
        vrid: 50,
        priority: 100,
        interval: 1,
        auth: WireAuth::Ah,
        addresses: vec![IpAddr::from([192, 168, 56, 50])],
    }
}

#[test]
fn unicast_ah_zeroes_the_ttl_in_the_icv() {
    let fields = Ipv4Fields {
        ttl: 64, // unicast_ttl 64
        ..Ipv4Fields::new(
            Ipv4Addr::new(192, 168, 56, 21),
            Ipv4Addr::new(192, 168, 56, 22),
            9,
        )
    };
    let p = sealed(&vi1_advert(), &fields, 42, true);
    let mut counter = SeqCounter {
        seq: 41,
        cycle: false,
    };
    let acc = rx::check(&unicast_ah_expected(), &rx4(&p), true, &mut counter).expect("accepted");
    assert_eq!((acc.ah_seq, counter.seq), (Some(42), 42));
    // A router changing the TTL does not break a unicast ICV...
    let mut m = p.clone();
    m[8] = 63;
    assert!(ah::verify(&m, &Key::from_auth_pass(b"cuongquach"), true).is_ok());
    // ... but the multicast rule (TTL covered) does not verify it.
    assert_eq!(
        ah::verify(&p, &Key::from_auth_pass(b"cuongquach"), false),
        Err(ah::VerifyError::Icv)
    );
}

fn advert_strategy() -> impl Strategy<Value = Advert> {
    (
        1u8..=255,
        any::<u8>(),
        1u16..=255,
        proptest::collection::vec(any::<[u8; 4]>(), 1..10),
    )
        .prop_map(|(vrid, priority, interval, addrs)| Advert {
            version: Version::V2,
            kind: 1,
            vrid,
            priority,
            interval,
            auth: WireAuth::Ah,
            addresses: addrs.into_iter().map(IpAddr::from).collect(),
        })
}

proptest! {
    #[test]
    fn sealed_adverts_are_accepted_once(advert in advert_strategy(), seq in 1u32.., id in any::<u16>(), src in any::<[u8; 4]>()) {
        let fields = Ipv4Fields::new(Ipv4Addr::from(src), Ipv4Addr::new(224, 0, 0, 18), id);
        let p = sealed(&advert, &fields, seq, false);
        let e = Expected {
            interval_centis: advert.interval_centis(),
            vips: advert.addresses.clone(),
            ..ah_expected()
        };
        let mut counter = SeqCounter { seq: seq - 1, cycle: false };
        let acc = rx::check(&e, &rx4(&p), true, &mut counter).expect("accepted");
        prop_assert_eq!(acc.advert, advert);
        prop_assert_eq!(acc.ah_seq, Some(seq));
        prop_assert_eq!(rx::check(&e, &rx4(&p), true, &mut counter), Err(Rejection::AhSequence { received: seq, local: seq }));
    }

    #[test]
    fn a_mutated_sealed_packet_never_verifies(advert in advert_strategy(), seq in any::<u32>(), idx in any::<usize>(), bit in 0u8..8, unicast in any::<bool>()) {
        let fields = Ipv4Fields::new(Ipv4Addr::new(192, 168, 56, 21), Ipv4Addr::new(224, 0, 0, 18), 1);
        let p = sealed(&advert, &fields, seq, unicast);
        let i = idx % p.len();
        // TOS, flags/fragment offset and the header checksum are outside the ICV (and the
        // TTL for unicast): keepalived does not read them either.
        let outside = [1, 6, 7, 10, 11];
        prop_assume!(!(outside.contains(&i) || (unicast && i == 8)));
        let mut m = p.clone();
        m[i] ^= 1 << bit;
        let key = Key::from_auth_pass(b"cuongquach");
        prop_assert!(ah::verify(&m, &key, unicast).is_err());
        let e = Expected {
            interval_centis: advert.interval_centis(),
            vips: advert.addresses.clone(),
            ..if unicast { unicast_ah_expected() } else { ah_expected() }
        };
        prop_assert!(rx::check(&e, &rx4(&m), true, &mut SeqCounter::default()).is_err());
    }

    #[test]
    fn random_and_mutated_ah_packets_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..80),
        ihl in 0u8..16,
        cut in any::<usize>(),
        counter in any::<u32>(),
        pick in 0usize..4,
        v3 in any::<bool>(),
    ) {
        // A real AH packet's start (possibly with a wrong IHL) and random bytes after it.
        let mut p = ah_packets()[0][..(cut % 45)].to_vec();
        if let Some(b) = p.first_mut() {
            *b = 0x40 | ihl;
        }
        p.extend_from_slice(&tail);
        let mut e = match pick {
            0 => ah_expected(),
            1 => unicast_ah_expected(),
            2 => Expected { auth: Auth::pass(b"cuongquach"), ..ah_expected() },
            _ => Expected { family: Family::V6, ..ah_expected() },
        };
        if v3 {
            e.version = Version::V3;
        }
        let rx = Received { bytes: &p, v6_addrs: Some((IpAddr::from([0xfe80, 0, 0, 0, 0, 0, 0, 1]), IpAddr::from([0xff02, 0, 0, 0, 0, 0, 0, 0x12]))), v6_hop_limit: Some(255), v6_multicast: true };
        let mut c = SeqCounter { seq: counter, cycle: false };
        let _ = rx::check(&e, &rx, true, &mut c);
        let key = Key::from_auth_pass(b"cuongquach");
        let _ = ah::verify(&p, &key, false);
        let _ = ah::verify(&p, &key, true);
        let _ = ah::seal(&mut p, &key, false);
        let _ = ah::AhHeader::parse(&p);
    }
}
