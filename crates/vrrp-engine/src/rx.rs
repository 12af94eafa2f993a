//! Receive checks: whether an instance accepts a received packet, in keepalived 2.2.7's
//! order (`vrrp_check_packet()` in `keepalived/vrrp/vrrp.c`), with its log messages.
//!
//! A packet that fails a check never changes state: the caller counts the [`Rejection`]
//! (per reason, as keepalived's stats do) and logs [`Rejection::message`]. Nothing here can
//! panic, whatever the bytes (see the property tests).

use std::net::{IpAddr, Ipv4Addr};

use crate::ah::{self, SeqCounter};
use crate::codec::{
    self, Advert, ChecksumMode, Family, Version, WireAuth, AH_LEN, IPPROTO_AH, IPPROTO_VRRP,
    TYPE_ADVERTISEMENT, VRRP_TTL,
};

/// The configured v2 authentication (`authentication { auth_type, auth_pass }`), with what
/// checking it needs; [`WireAuth`] is the wire view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No authentication.
    None,
    /// `auth_type PASS`: the password as sent (first 8 bytes, zero padded).
    Pass([u8; codec::AUTH_DATA_LEN]),
    /// `auth_type AH`: keepalived's IPsec AH, HMAC-MD5-96 under this key.
    Ah(ah::Key),
}

impl Auth {
    /// `auth_type PASS` with `auth_pass` `password`.
    pub fn pass(password: &[u8]) -> Auth {
        match WireAuth::pass(password) {
            WireAuth::Pass(data) => Auth::Pass(data),
            _ => Auth::None, // WireAuth::pass always gives Pass
        }
    }

    /// `auth_type AH` with `auth_pass` `password`.
    pub fn ah(password: &[u8]) -> Auth {
        Auth::Ah(ah::Key::from_auth_pass(password))
    }

    /// What the advert's auth fields carry.
    pub fn wire(&self) -> WireAuth {
        match self {
            Auth::None => WireAuth::None,
            Auth::Pass(data) => WireAuth::Pass(*data),
            Auth::Ah(_) => WireAuth::Ah,
        }
    }
}

/// What an instance expects of the adverts it receives (from its configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The instance name, as messages show it (`VI_1`).
    pub name: String,
    /// Address family.
    pub family: Family,
    /// VRRP version.
    pub version: Version,
    /// v2 authentication configured. keepalived ignores it for v3 and AH for IPv6 (its
    /// config check resets `auth_type` to none), and so does [`check`].
    pub auth: Auth,
    /// Configured advert interval in centiseconds (v2 compares it; v3 adopts the master's).
    pub interval_centis: u32,
    /// The instance's virtual addresses (compared when `check_addresses`).
    pub vips: Vec<IpAddr>,
    /// Unicast peers: empty means multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// `check_unicast_src`: the source must be a configured peer.
    pub check_unicast_src: bool,
    /// keepalived's `v3_checksum_as_v2`.
    pub checksum_mode: ChecksumMode,
}

/// A received packet as the socket gave it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// IPv4: the whole packet with its IP header (a raw socket's view). IPv6: the VRRP
    /// payload (the kernel strips the header).
    pub bytes: &'a [u8],
    /// IPv6 only (IPv4 reads them from the header): source and destination.
    pub v6_addrs: Option<(IpAddr, IpAddr)>,
    /// IPv6 hop limit from the ancillary data (IPv4 reads the header), if known.
    pub v6_hop_limit: Option<u8>,
    /// IPv6: whether it arrived on the multicast group.
    pub v6_multicast: bool,
}

/// Why a packet was not accepted. `Ko` reasons are counted as errors by keepalived;
/// [`Rejection::silent`] ones (interval mismatch, AH for another protocol) are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not even an IPv4 header.
    Truncated(usize),
    /// AH present but not configured, or configured and absent.
    AhMismatch {
        /// Whether the packet had an AH header.
        received_ah: bool,
    },
    /// Length differs from what the header's count implies.
    Length {
        /// Received length.
        got: usize,
        /// Expected length.
        want: usize,
    },
    /// TTL / hop limit not 255 (multicast only).
    Ttl(u8),
    /// Version nibble differs.
    Version {
        /// Received.
        got: u8,
        /// Ours.
        want: u8,
    },
    /// v2 auth type not 0, 1 or 2.
    InvalidAuthType(u8),
    /// v2 auth type differs from the configured one.
    AuthTypeMismatch {
        /// Received.
        got: u8,
        /// Configured.
        want: u8,
    },
    /// v2 PASS data differs.
    Password,
    /// An AH header for another protocol (silently dropped).
    AhForOtherProtocol,
    /// AH: the ICV does not match (wrong `auth_pass`, or the packet changed).
    AhIcv,
    /// AH: the SPI is not the packet's source address.
    AhSpi {
        /// The IPv4 source address.
        saddr: Ipv4Addr,
        /// The SPI.
        spi: [u8; 4],
    },
    /// AH: a sequence number not above the instance's counter (a replay).
    AhSequence {
        /// The packet's sequence number.
        received: u32,
        /// The instance's counter.
        local: u32,
    },
    /// v2 advert interval differs from ours (silently dropped: "multiple master in 1 VRID").
    Interval {
        /// Ours, in seconds.
        mine: u32,
        /// Received, in seconds.
        got: u16,
    },
    /// Type is not ADVERTISEMENT.
    Type(u8),
    /// Address count differs from our VIP count.
    Count {
        /// Received.
        got: u8,
        /// Ours.
        want: usize,
    },
    /// IPv4 total length differs from the received length.
    TotalLength {
        /// Header's total length.
        header: u16,
        /// Bytes received.
        got: usize,
    },
    /// Checksum wrong.
    Checksum(Version),
    /// Multicast received by a unicast instance, or the reverse.
    Cast {
        /// Whether we are unicast.
        unicast: bool,
    },
    /// One of our VIPs is not in the advert.
    VipMissing {
        /// Our VRID.
        vrid: u8,
        /// The missing VIP.
        vip: IpAddr,
    },
    /// The unicast source is not a configured peer.
    UnicastSource(IpAddr),
}

impl Rejection {
    /// keepalived's log line for this rejection, for instance `name` (`None`: keepalived
    /// drops it without a message).
    pub fn message(&self, name: &str) -> Option<String> {
        Some(match self {
            Rejection::Truncated(n) => format!("({name}) vrrp packet too short, length {n}"),
            Rejection::AhMismatch { received_ah: true } => {
                format!("({name}) Received AH header but auth type not AH")
            }
            Rejection::AhMismatch { received_ah: false } => {
                format!("({name}) No AH header but auth type is AH")
            }
            Rejection::Length { got, want } => format!(
                "({name}) vrrp packet too {}, length {got} and expect {want}",
                if got > want { "long" } else { "short" }
            ),
            Rejection::Ttl(t) => {
                format!("({name}) invalid TTL/HL. Received {t} and expect {VRRP_TTL}")
            }
            Rejection::Version { got, want } => {
                format!("({name}) wrong version. Received {got} and expect {want}")
            }
            Rejection::InvalidAuthType(t) => format!("({name}) Invalid auth type: {t}"),
            Rejection::AuthTypeMismatch { got, want } => {
                format!("({name}) received a {got} auth, expecting {want}!")
            }
            Rejection::Password => format!("({name}) received an invalid passwd!"),
            Rejection::AhForOtherProtocol => return None,
            Rejection::AhIcv => format!(
                "({name}) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
            ),
            // keepalived prints both as `%u` of the network-order words, without the
            // instance name, source first; we print what a little-endian host prints.
            Rejection::AhSpi { saddr, spi } => format!(
                "IPSEC AH : invalid IPSEC SPI value. {} and expect {}",
                u32::from_le_bytes(saddr.octets()),
                u32::from_le_bytes(*spi)
            ),
            Rejection::AhSequence { received, local } => format!(
                "({name}) IPSEC-AH : sequence number {received} already processed. Packet dropped. Local({local})"
            ),
            Rejection::Interval { mine, got } => format!(
                "({name}) advertisement interval mismatch mine={mine} sec rcv'd={got} sec"
            ),
            Rejection::Type(t) => format!(
                "({name}) Invalid packet type. {t} and expect {TYPE_ADVERTISEMENT}"
            ),
            Rejection::Count { got, want } => format!(
                "({name}) received an unexpected ip number count {got}, expected {want}!"
            ),
            Rejection::TotalLength { header, got } => format!(
                "({name}) ip_tot_len mismatch against received length. {header} and received {got}"
            ),
            Rejection::Checksum(Version::V2) => format!("({name}) Invalid VRRPv2 checksum"),
            Rejection::Checksum(Version::V3) => format!("({name}) Invalid VRRPv3 checksum"),
            Rejection::Cast { unicast } => format!(
                "({name}) Expected {}icast packet but received {}icast packet",
                if *unicast { "un" } else { "mult" },
                if *unicast { "mult" } else { "un" }
            ),
            Rejection::VipMissing { vrid, vip } => format!(
                "({name}) ip address associated with VRID {vrid} not present in MASTER advert: {vip}"
            ),
            Rejection::UnicastSource(a) => {
                format!("({name}) unicast source address {a} not a unicast peer")
            }
        })
    }

    /// Dropped without counting as an error (keepalived's `VRRP_PACKET_DROP`).
    pub fn silent(&self) -> bool {
        matches!(
            self,
            Rejection::Interval { .. } | Rejection::AhForOtherProtocol
        )
    }

    /// A short stable name for counters (`length`, `ttl`, `checksum`...).
    pub fn counter(&self) -> &'static str {
        match self {
            Rejection::Truncated(_) | Rejection::Length { .. } | Rejection::TotalLength { .. } => {
                "packet_len_err"
            }
            Rejection::AhMismatch { .. } | Rejection::AuthTypeMismatch { .. } => {
                "authtype_mismatch"
            }
            Rejection::Ttl(_) => "ip_ttl_err",
            Rejection::Version { .. } => "vers_err",
            Rejection::InvalidAuthType(_) => "invalid_authtype",
            Rejection::Password
            | Rejection::AhIcv
            | Rejection::AhSpi { .. }
            | Rejection::AhSequence { .. } => "auth_failure",
            Rejection::AhForOtherProtocol => "ah_other_protocol",
            Rejection::Interval { .. } => "interval_mismatch",
            Rejection::Type(_) => "invalid_type_rcvd",
            Rejection::Count { .. } | Rejection::Cast { .. } | Rejection::VipMissing { .. } => {
                "addr_list_err"
            }
            Rejection::Checksum(_) => "chk_err",
            Rejection::UnicastSource(_) => "unicast_src_err",
        }
    }
}

/// An accepted advert and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The advert.
    pub advert: Advert,
    /// Its source address (the sender's primary address: the election tie-break).
    pub src: IpAddr,
    /// `auth_type AH`: the packet's (verified) AH sequence number, which is now the
    /// instance's counter. A MASTER receiving a lower-priority advert sets its counter to
    /// this + 1 (see [`crate::ah`] for everything keepalived does with sequence numbers).
    pub ah_seq: Option<u32>,
}

/// Checks `rx` against `expected` in keepalived's order. `check_addresses` is keepalived's
/// `check_vip_addr` (false only when `skip_check_adv_addr` is set and the master is the
/// same as last time).
///
/// `ah_counter` is the instance's AH sequence counter (keepalived's `ipsecah_counter`,
/// untouched without `auth_type AH`). As in keepalived, an AH packet whose ICV, SPI and
/// sequence number pass moves `ah_counter.seq` to its sequence number at that point of the
/// checks, even if a later check (interval, type, count, length, checksum, addresses)
/// rejects it; `cycle` is left to the caller (see [`crate::ah`]).
pub fn check(
    expected: &Expected,
    rx: &Received<'_>,
    check_addresses: bool,
    ah_counter: &mut SeqCounter,
) -> Result<Accepted, Rejection> {
    let unicast = !expected.unicast_peers.is_empty();
    // keepalived's config check turns auth off for v3, and AH off for IPv6.
    let ah_key = match &expected.auth {
        Auth::Ah(key) if expected.version == Version::V2 && expected.family == Family::V4 => {
            Some(key)
        }
        _ => None,
    };
    let mut ah_seq = None;
    let auth = match (&expected.auth, ah_key) {
        (Auth::Ah(_), None) => &Auth::None,
        (auth, _) => auth,
    };
    // Locate the VRRP payload and read what the IP layer says.
    let (payload, src, dst, ttl, ip_total, ip_len, multicast, ah_next) = match expected.family {
        Family::V4 => {
            let b = rx.bytes;
            if b.len() < 20 {
                return Err(Rejection::Truncated(b.len()));
            }
            let ihl = usize::from(b[0] & 0x0f) * 4;
            if ihl < 20 || b.len() < ihl {
                return Err(Rejection::Truncated(b.len()));
            }
            let protocol = b[9];
            let has_ah = protocol == IPPROTO_AH;
            let ah_configured = ah_key.is_some();
            if has_ah != ah_configured {
                return Err(Rejection::AhMismatch {
                    received_ah: has_ah,
                });
            }
            let mut start = ihl;
            let mut ah_next = None;
            if has_ah {
                if b.len() < ihl + AH_LEN {
                    return Err(Rejection::Truncated(b.len()));
                }
                ah_next = Some(b[ihl]);
                start += AH_LEN;
            } else if protocol != IPPROTO_VRRP {
                return Err(Rejection::AhMismatch { received_ah: false });
            }
            let src = IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]));
            let dst = Ipv4Addr::new(b[16], b[17], b[18], b[19]);
            (
                &b[start..],
                src,
                IpAddr::V4(dst),
                Some(b[8]),
                Some(u16::from_be_bytes([b[2], b[3]])),
                start,
                dst.is_multicast(),
                ah_next,
            )
        }
        Family::V6 => {
            let Some((src, dst)) = rx.v6_addrs else {
                return Err(Rejection::Truncated(rx.bytes.len()));
            };
            (
                rx.bytes,
                src,
                dst,
                rx.v6_hop_limit,
                None,
                0,
                rx.v6_multicast,
                None,
            )
        }
    };
    if payload.len() < codec::HEADER_LEN {
        return Err(Rejection::Truncated(rx.bytes.len()));
    }
    // Length as keepalived computes it from the received version and count.
    let version_nibble = payload[0] >> 4;
    let rx_version = if version_nibble == 2 {
        Version::V2
    } else {
        Version::V3
    };
    let want = ip_len + codec::payload_len(rx_version, expected.family, usize::from(payload[3]));
    if rx.bytes.len() != want {
        return Err(Rejection::Length {
            got: rx.bytes.len(),
            want,
        });
    }
    if !unicast {
        if let Some(t) = ttl {
            if t != VRRP_TTL {
                return Err(Rejection::Ttl(t));
            }
        }
    }
    if version_nibble != expected.version.number() {
        return Err(Rejection::Version {
            got: version_nibble,
            want: expected.version.number(),
        });
    }
    if expected.version == Version::V2 {
        let auth_type = payload[4];
        if auth_type > 2 {
            return Err(Rejection::InvalidAuthType(auth_type));
        }
        let want_type = auth.wire().type_number();
        if auth_type != want_type {
            return Err(Rejection::AuthTypeMismatch {
                got: auth_type,
                want: want_type,
            });
        }
        match auth {
            Auth::Pass(data) => {
                let got = &payload[payload.len() - codec::AUTH_DATA_LEN..];
                // keepalived compares in constant time; so do we (no early exit).
                let diff = got
                    .iter()
                    .zip(data.iter())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b));
                if diff != 0 || expected.family != Family::V4 {
                    return Err(Rejection::Password);
                }
            }
            Auth::Ah(_) => {
                if let Some(key) = ah_key {
                    if ah_next != Some(IPPROTO_VRRP) {
                        return Err(Rejection::AhForOtherProtocol);
                    }
                    // vrrp_in_chk_ipsecah(): ICV, then SPI, then the sequence number.
                    let header = ah::verify(rx.bytes, key, unicast).map_err(|e| match e {
                        ah::VerifyError::Spi { saddr, spi } => Rejection::AhSpi {
                            saddr: Ipv4Addr::from(saddr),
                            spi,
                        },
                        ah::VerifyError::Icv | ah::VerifyError::Truncated => Rejection::AhIcv,
                    })?;
                    ah_counter
                        .accept(header.seq)
                        .map_err(|r| Rejection::AhSequence {
                            received: r.received,
                            local: r.local,
                        })?;
                    ah_seq = Some(header.seq);
                }
            }
            Auth::None => {}
        }
        let got = u16::from(payload[5]);
        if expected.interval_centis != u32::from(got) * 100 {
            return Err(Rejection::Interval {
                mine: expected.interval_centis / 100,
                got,
            });
        }
    }
    let kind = payload[0] & 0x0f;
    if kind != TYPE_ADVERTISEMENT {
        return Err(Rejection::Type(kind));
    }
    if check_addresses && usize::from(payload[3]) != expected.vips.len() {
        return Err(Rejection::Count {
            got: payload[3],
            want: expected.vips.len(),
        });
    }
    if let Some(total) = ip_total {
        if usize::from(total) != rx.bytes.len() {
            return Err(Rejection::TotalLength {
                header: total,
                got: rx.bytes.len(),
            });
        }
    }
    // IPv6 checksums are verified by the kernel (IPV6_CHECKSUM), as keepalived relies on.
    if expected.family == Family::V4
        && !codec::checksum_ok(expected.version, expected.checksum_mode, src, dst, payload)
    {
        return Err(Rejection::Checksum(expected.version));
    }
    if multicast == unicast {
        return Err(Rejection::Cast { unicast });
    }
    let advert = codec::decode(payload, expected.family).map_err(|_| Rejection::Length {
        got: rx.bytes.len(),
        want,
    })?;
    if check_addresses {
        for vip in &expected.vips {
            if !advert.addresses.contains(vip) {
                return Err(Rejection::VipMissing {
                    vrid: advert.vrid,
                    vip: *vip,
                });
            }
        }
    }
    if unicast && expected.check_unicast_src && !expected.unicast_peers.contains(&src) {
        return Err(Rejection::UnicastSource(src));
    }
    Ok(Accepted {
        advert,
        src,
        ah_seq,
    })
}
