//! VRRP adverts decoded field by field from a tcpdump capture, and the diff of two subjects'
//! adverts.
//!
//! This is the labs' independent oracle of what is on the wire: it is written from the RFCs
//! (RFC 3768 VRRPv2, RFC 5798 VRRPv3, RFC 4302 AH) and from what keepalived 2.2.7 was seen to
//! send (the captures in `compat-tests/data/`, see its README), never from ha-compat's code.
//!
//! - [`read_pcap`] / [`read_pcap_file`] ([`read_pcap_so_far`] while tcpdump still writes it):
//!   a classic pcap file (`tcpdump -w`; both byte orders,
//!   µs and ns timestamps; link types Ethernet, Linux cooked SLL and SLL2, raw IP) into the
//!   [`Advert`]s it holds. Other packets are skipped. A VRRP packet that cannot be decoded
//!   completely is still returned, with [`Advert::malformed`] saying why; only a broken pcap
//!   file (bad header, a record running past the end of the file) is an [`AdvertError`].
//! - [`read_garps_so_far`]: the gratuitous ARPs in a capture (a new master's announcement of
//!   the VIP, which reaches the wire even when its unicast advert cannot).
//! - [`decode_ip_packet`]: one IPv4/IPv6 packet (as from a raw socket) into an [`Advert`].
//! - [`Advert::describe`]: one line, field by field.
//! - [`diff`] / [`diff_including_src`]: the fields two implementations must agree on when they
//!   advertise the same configuration in the same state.
//! - [`by_source`], [`intervals_ms`], [`runs`]: what a test that captured a whole failover asks: who
//!   sent what, how far apart (`advert_int`), and the sequence of senders and priorities.
//!
//! Wire facts the decoder relies on (all checked against the captures by the tests below):
//! - VRRPv2 (RFC 3768 §5.1): `ver|type, vrid, priority, count, auth type, adver int (s),
//!   checksum, count × IPv4 address, 8 bytes auth data`; the checksum covers the VRRP message
//!   only.
//! - VRRPv3 (RFC 5798 §5.1): `ver|type, vrid, priority, count, rsvd(4)|max adver int(12, cs),
//!   checksum, count × address`; the checksum includes the IP pseudo-header (RFC 5798 §5.2.8),
//!   as keepalived sends it by default. keepalived's `v3_checksum_as_v2` leaves the
//!   pseudo-header out on IPv4; that is reported as [`ChecksumStatus::ValidWithoutPseudoHeader`].
//! - keepalived's `auth_type AH` (RFC 2338's authentication type 2) wraps the VRRPv2 message in
//!   an IPsec AH header: next header 112, payload length 4 (24 bytes), SPI = the IPv4 source
//!   address, a sequence number, and a 12-byte ICV: HMAC-MD5-96 keyed with the 8 bytes of
//!   `auth_pass` (truncated / zero-padded to 8), over the IP header with TOS, flags/fragment
//!   offset and header checksum zeroed but the TTL left in (RFC 4302 would zero it too), the
//!   AH header with the ICV zeroed, and the VRRP message ([`Advert::verify_ah`]). The backup
//!   continues the master's sequence numbers when it takes over.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// IP protocol number of IPsec AH.
pub const IPPROTO_AH: u8 = 51;
/// The VRRP IPv4 multicast group, 224.0.0.18.
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group, ff02::12.
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The VRRP packet type ADVERTISEMENT (the only one RFC 3768 and RFC 5798 define).
pub const TYPE_ADVERTISEMENT: u8 = 1;

/// pcap link types this reader understands.
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_IPV4: u32 = 228;
const LINKTYPE_IPV6: u32 = 229;
const LINKTYPE_LINUX_SLL2: u32 = 276;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_ARP: u16 = 0x0806;

/// Why a capture could not be read at all.
#[derive(Debug)]
pub enum AdvertError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Shorter than the 24-byte pcap file header.
    TooShort {
        /// The file's length.
        len: usize,
    },
    /// A pcapng file (`tcpdump -w` writes classic pcap; so does `editcap -F pcap`).
    Pcapng,
    /// Not a pcap magic number.
    BadMagic(u32),
    /// A link type other than Ethernet (1), raw IP (101, 228, 229), SLL (113), SLL2 (276).
    UnsupportedLinkType(u32),
    /// A record header or its data runs past the end of the file (a file cut short).
    TruncatedRecord {
        /// The record's number, counted from 1 as tcpdump and Wireshark do.
        frame: usize,
        /// Its offset in the file.
        offset: usize,
    },
}

impl fmt::Display for AdvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdvertError::Io { path, source } => {
                write!(f, "cannot read capture {}: {source}", path.display())
            }
            AdvertError::TooShort { len } => {
                write!(
                    f,
                    "not a pcap file: {len} bytes, shorter than the pcap header"
                )
            }
            AdvertError::Pcapng => write!(f, "pcapng is not supported, only classic pcap"),
            AdvertError::BadMagic(m) => write!(f, "not a pcap file: magic number {m:#010x}"),
            AdvertError::UnsupportedLinkType(t) => write!(f, "unsupported pcap link type {t}"),
            AdvertError::TruncatedRecord { frame, offset } => write!(
                f,
                "capture cut short: record {frame} at byte {offset} runs past the end of the file"
            ),
        }
    }
}

impl std::error::Error for AdvertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AdvertError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The advertisement interval field: VRRPv2 carries seconds, VRRPv3 centiseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    /// VRRPv2 `Adver Int`, in seconds (8 bits).
    Seconds(u8),
    /// VRRPv3 `Max Adver Int`, in centiseconds (12 bits).
    Centiseconds(u16),
}

impl Interval {
    /// The interval in centiseconds, whichever unit the packet used.
    pub fn centiseconds(self) -> u32 {
        match self {
            Interval::Seconds(s) => u32::from(s) * 100,
            Interval::Centiseconds(cs) => u32::from(cs),
        }
    }

    /// The interval as a duration.
    pub fn duration(self) -> Duration {
        Duration::from_millis(u64::from(self.centiseconds()) * 10)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interval::Seconds(s) => write!(f, "{s}s"),
            Interval::Centiseconds(cs) => write!(f, "{cs}cs"),
        }
    }
}

/// Whether the VRRP checksum is right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChecksumStatus {
    /// Right as the RFC computes it: VRRPv2 over the VRRP message, VRRPv3 with the IP
    /// pseudo-header.
    Valid,
    /// VRRPv3 over IPv4 whose checksum is right only without the pseudo-header (keepalived's
    /// `v3_checksum_as_v2`).
    ValidWithoutPseudoHeader,
    /// Wrong.
    Invalid,
    /// Not checked: the message is not all there (see [`Advert::malformed`]).
    Unverifiable,
}

impl fmt::Display for ChecksumStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChecksumStatus::Valid => "ok",
            ChecksumStatus::ValidWithoutPseudoHeader => "ok-as-v2",
            ChecksumStatus::Invalid => "BAD",
            ChecksumStatus::Unverifiable => "unverifiable",
        })
    }
}

/// An IPsec AH header (RFC 4302 §2) in front of the VRRP message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AhHeader {
    /// The protocol after AH (112 for VRRP).
    pub next_header: u8,
    /// AH length in 32-bit words minus 2 (keepalived: 4, i.e. 24 bytes).
    pub payload_len: u8,
    /// The reserved field (0).
    pub reserved: u16,
    /// Security Parameters Index (keepalived: the IPv4 source address).
    pub spi: u32,
    /// Sequence number.
    pub seq: u32,
    /// Integrity check value (keepalived: 12 bytes of HMAC-MD5-96).
    pub icv: Vec<u8>,
}

impl AhHeader {
    /// Whether the SPI is the source address, as keepalived sets it (always false for IPv6).
    pub fn spi_is_source(&self, src: IpAddr) -> bool {
        match src {
            IpAddr::V4(a) => self.spi == u32::from(a),
            IpAddr::V6(_) => false,
        }
    }
}

/// One VRRP packet from a capture, every field as it was on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    /// The capture record it came from, counted from 1 (tcpdump's and Wireshark's numbering);
    /// 0 for [`decode_ip_packet`].
    pub frame: usize,
    /// Capture time, microseconds since the UNIX epoch (0 for [`decode_ip_packet`]).
    pub timestamp_us: u64,
    /// IP source address (unspecified if the IP header is cut short).
    pub src: IpAddr,
    /// IP destination address (unspecified if the IP header is cut short).
    pub dst: IpAddr,
    /// IPv4 TTL / IPv6 hop limit (RFC: 255).
    pub ttl: u8,
    /// IPv4 TOS / IPv6 traffic class (keepalived: 0xc0, internetwork control).
    pub tos: u8,
    /// The protocol in the IP header itself: 112 (VRRP) or 51 (AH); for IPv6 the first next
    /// header (another value only if extension headers come first).
    pub ip_protocol: u8,
    /// The AH header, if the VRRP message came wrapped in one.
    pub ah: Option<AhHeader>,
    /// VRRP version (2 or 3).
    pub version: u8,
    /// VRRP type (1 = ADVERTISEMENT).
    pub kind: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority (0: the master is stopping; 255: the address owner).
    pub priority: u8,
    /// `Count IPvX Addr`, as the header says (compare with `addresses.len()`).
    pub count: u8,
    /// VRRPv2 authentication type (0 none, 1 simple password, 2 AH); `None` for VRRPv3.
    pub auth_type: Option<u8>,
    /// VRRPv2 authentication data, the 8 bytes after the addresses; `None` for VRRPv3 (and
    /// if the packet ends before them).
    pub auth_data: Option<[u8; 8]>,
    /// The 4 reserved bits of VRRPv3 (before the interval); 0 for VRRPv2.
    pub v3_rsvd: u8,
    /// The advertisement interval.
    pub interval: Interval,
    /// The checksum field.
    pub checksum: u16,
    /// Whether the checksum is right as the RFC computes it (`checksum_status` is
    /// [`ChecksumStatus::Valid`]).
    pub checksum_valid: bool,
    /// Whether the checksum is right, in detail.
    pub checksum_status: ChecksumStatus,
    /// The addresses the packet carries (as many as are there, whatever `count` says).
    pub addresses: Vec<IpAddr>,
    /// Length of the VRRP message: the IP payload after any AH header, as the IP header
    /// delimits it (less if the capture cut it short).
    pub vrrp_len: usize,
    /// Why the packet is not a complete, well-formed VRRP message; `None` if it is.
    pub malformed: Option<String>,
    /// The IP packet itself, from the IP header to the end the IP header gives (or to the
    /// end of what was captured).
    pub ip_packet: Vec<u8>,
}

impl Advert {
    fn empty(frame: usize, timestamp_us: u64, unspecified: IpAddr) -> Advert {
        Advert {
            frame,
            timestamp_us,
            src: unspecified,
            dst: unspecified,
            ttl: 0,
            tos: 0,
            ip_protocol: 0,
            ah: None,
            version: 0,
            kind: 0,
            vrid: 0,
            priority: 0,
            count: 0,
            auth_type: None,
            auth_data: None,
            v3_rsvd: 0,
            interval: Interval::Seconds(0),
            checksum: 0,
            checksum_valid: false,
            checksum_status: ChecksumStatus::Unverifiable,
            addresses: Vec::new(),
            vrrp_len: 0,
            malformed: None,
            ip_packet: Vec::new(),
        }
    }

    /// The advertisement interval in centiseconds, whichever unit the packet used.
    pub fn interval_centis(&self) -> u32 {
        self.interval.centiseconds()
    }

    /// Whether this is a well-formed ADVERTISEMENT.
    pub fn is_advertisement(&self) -> bool {
        self.kind == TYPE_ADVERTISEMENT && self.malformed.is_none()
    }

    /// One line, field by field, e.g. `v2 ADVERTISEMENT vrid=101 prio=103 count=1
    /// auth=PASS("mylittle") int=2s cksum=0x1234(ok) ttl=255 tos=0xc0 192.168.56.21 ->
    /// 192.168.56.22 [192.168.56.69]`. An AH header shows as `AH(spi=.. seq=.. icv=..)`
    /// before the addresses, a malformed packet ends in `MALFORMED(why)`.
    pub fn describe(&self) -> String {
        let mut s = format!("v{} {}", self.version, type_name(self.kind));
        s.push_str(&format!(
            " vrid={} prio={} count={}",
            self.vrid, self.priority, self.count
        ));
        if let Some(t) = self.auth_type {
            s.push_str(&format!(" auth={}", auth_text(t, self.auth_data.as_ref())));
        }
        if self.v3_rsvd != 0 {
            s.push_str(&format!(" rsvd={:#x}", self.v3_rsvd));
        }
        s.push_str(&format!(
            " int={} cksum={:#06x}({}) ttl={} tos={:#04x}",
            self.interval, self.checksum, self.checksum_status, self.ttl, self.tos
        ));
        if let Some(ah) = &self.ah {
            s.push_str(&format!(
                " AH(next={} len={} spi={:#010x} seq={} icv={})",
                ah.next_header,
                ah.payload_len,
                ah.spi,
                ah.seq,
                hex(&ah.icv)
            ));
        } else if self.ip_protocol != IPPROTO_VRRP {
            s.push_str(&format!(" proto={}", self.ip_protocol));
        }
        s.push_str(&format!(
            " {} -> {} [{}]",
            self.src,
            self.dst,
            join(&self.addresses)
        ));
        if let Some(why) = &self.malformed {
            s.push_str(&format!(" MALFORMED({why})"));
        }
        s
    }

    /// Checks the AH ICV with keepalived's key, the first 8 bytes of `auth_pass` (zero-padded
    /// to 8): `None` if the packet has no AH header, no ICV, is not all there, or is IPv6
    /// (keepalived sends AH over IPv4 only).
    pub fn verify_ah(&self, auth_pass: &str) -> Option<bool> {
        let ah = self.ah.as_ref()?;
        if self.malformed.is_some() || ah.icv.is_empty() || !self.src.is_ipv4() {
            return None;
        }
        let ihl = usize::from(self.ip_packet.first()? & 0x0f) * 4;
        let mut buf = self.ip_packet.clone();
        // keepalived zeroes TOS, flags/fragment offset and the header checksum for the ICV,
        // but not the TTL, which RFC 4302 §3.3.3.1.1.1 counts as mutable too (seen on the
        // wire: the ICV only matches with TTL 255 left in).
        for at in [1, 6, 7, 10, 11] {
            *buf.get_mut(at)? = 0;
        }
        let icv_at = ihl + 12;
        for b in buf.get_mut(icv_at..icv_at + ah.icv.len())? {
            *b = 0;
        }
        let mut key = [0u8; 8];
        for (k, p) in key.iter_mut().zip(auth_pass.bytes()) {
            *k = p;
        }
        let mac = hmac_md5(&key, &buf);
        Some(mac.get(..ah.icv.len()) == Some(ah.icv.as_slice()))
    }
}

fn type_name(kind: u8) -> String {
    match kind {
        TYPE_ADVERTISEMENT => "ADVERTISEMENT".to_owned(),
        other => format!("TYPE{other}"),
    }
}

fn auth_text(auth_type: u8, data: Option<&[u8; 8]>) -> String {
    let name = match auth_type {
        0 => "NONE".to_owned(),
        1 => "PASS".to_owned(),
        2 => "AH".to_owned(),
        other => format!("TYPE{other}"),
    };
    match data {
        Some(d) if auth_type == 1 || d.iter().any(|&b| b != 0) => {
            format!("{name}(\"{}\")", d.escape_ascii())
        }
        Some(_) => name,
        None => format!("{name}(missing)"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn join(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One field on which two adverts differ.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldDiff {
    /// The field's name (`priority`, `auth_data`, `checksum_valid`, ...).
    pub field: &'static str,
    /// Its value in the first advert.
    pub a: String,
    /// Its value in the second advert.
    pub b: String,
}

impl fmt::Display for FieldDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} != {}", self.field, self.a, self.b)
    }
}

/// The fields in which two adverts sent for the same configuration and state must agree,
/// whoever sent them: version, type, vrid, priority, count, v3 reserved bits, auth type and
/// data, interval, checksum *validity*, TTL, TOS, IP protocol, destination, addresses, VRRP
/// length, the AH header's shape (next header, length, reserved, ICV length, SPI = source
/// address or not), and malformedness. Not compared: capture time and frame, source address
/// (see [`diff_including_src`]), checksum value, AH sequence number and ICV.
pub fn diff(a: &Advert, b: &Advert) -> Vec<FieldDiff> {
    diff_fields(a, b, false)
}

/// [`diff`], plus the source address (`src`) and the raw AH SPI (`ah_spi`).
pub fn diff_including_src(a: &Advert, b: &Advert) -> Vec<FieldDiff> {
    diff_fields(a, b, true)
}

fn diff_fields(a: &Advert, b: &Advert, with_src: bool) -> Vec<FieldDiff> {
    compared_fields(a, with_src)
        .into_iter()
        .zip(compared_fields(b, with_src))
        .filter(|((_, va), (_, vb))| va != vb)
        .map(|((field, va), (_, vb))| FieldDiff {
            field,
            a: va,
            b: vb,
        })
        .collect()
}

fn compared_fields(a: &Advert, with_src: bool) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if with_src {
        v.push(("src", a.src.to_string()));
    }
    v.push(("version", a.version.to_string()));
    v.push(("type", type_name(a.kind)));
    v.push(("vrid", a.vrid.to_string()));
    v.push(("priority", a.priority.to_string()));
    v.push(("count", a.count.to_string()));
    v.push(("v3_rsvd", a.v3_rsvd.to_string()));
    v.push((
        "auth_type",
        a.auth_type
            .map_or_else(|| "-".to_owned(), |t| t.to_string()),
    ));
    v.push((
        "auth_data",
        a.auth_data
            .map_or_else(|| "-".to_owned(), |d| format!("\"{}\"", d.escape_ascii())),
    ));
    v.push(("interval", a.interval.to_string()));
    v.push(("checksum_valid", a.checksum_status.to_string()));
    v.push(("ttl", a.ttl.to_string()));
    v.push(("tos", format!("{:#04x}", a.tos)));
    v.push(("ip_protocol", a.ip_protocol.to_string()));
    v.push(("dst", a.dst.to_string()));
    v.push(("addresses", format!("[{}]", join(&a.addresses))));
    v.push(("vrrp_len", a.vrrp_len.to_string()));
    v.push((
        "ah",
        a.ah.as_ref().map_or_else(
            || "none".to_owned(),
            |ah| {
                format!(
                    "next={} len={} reserved={} icv={}B spi={}",
                    ah.next_header,
                    ah.payload_len,
                    ah.reserved,
                    ah.icv.len(),
                    if ah.spi_is_source(a.src) {
                        "source".to_owned()
                    } else {
                        format!("{:#010x}", ah.spi)
                    }
                )
            },
        ),
    ));
    if with_src {
        v.push((
            "ah_spi",
            a.ah.as_ref()
                .map_or_else(|| "-".to_owned(), |ah| format!("{:#010x}", ah.spi)),
        ));
    }
    v.push(("malformed", a.malformed.clone().unwrap_or_default()));
    v
}

/// The adverts of each source address, in capture order. (A capture with several virtual
/// routers: filter by `vrid` first.)
pub fn by_source(adverts: &[Advert]) -> BTreeMap<IpAddr, Vec<&Advert>> {
    let mut map: BTreeMap<IpAddr, Vec<&Advert>> = BTreeMap::new();
    for a in adverts {
        map.entry(a.src).or_default().push(a);
    }
    map
}

/// The milliseconds between consecutive adverts (e.g. of one source and priority, from
/// [`by_source`], to check `advert_int`), rounded to the nearest millisecond; zero where the
/// capture's clock went backwards.
pub fn intervals_ms(adverts: &[&Advert]) -> Vec<u64> {
    adverts
        .windows(2)
        .map(|w| match w {
            [x, y] => {
                y.timestamp_us
                    .saturating_sub(x.timestamp_us)
                    .saturating_add(500)
                    / 1000
            }
            _ => 0,
        })
        .collect()
}

/// A stretch of consecutive adverts with the same source, vrid and priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The sender.
    pub src: IpAddr,
    /// The virtual router.
    pub vrid: u8,
    /// The priority advertised.
    pub priority: u8,
    /// How many adverts.
    pub adverts: usize,
    /// Capture time of the first, µs since the epoch.
    pub first_us: u64,
    /// Capture time of the last, µs since the epoch.
    pub last_us: u64,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vrid={} prio={} x{}",
            self.src, self.vrid, self.priority, self.adverts
        )
    }
}

/// The capture as runs of (source, vrid, priority): a failover reads e.g. `A prio=101 x5`,
/// `A prio=0 x1`, `B prio=100 x4`.
pub fn runs(adverts: &[Advert]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for a in adverts {
        if let Some(last) = out.last_mut() {
            if last.src == a.src && last.vrid == a.vrid && last.priority == a.priority {
                last.adverts += 1;
                last.last_us = a.timestamp_us;
                continue;
            }
        }
        out.push(Run {
            src: a.src,
            vrid: a.vrid,
            priority: a.priority,
            adverts: 1,
            first_us: a.timestamp_us,
            last_us: a.timestamp_us,
        });
    }
    out
}

/// Reads a pcap file and returns its VRRP packets ([`read_pcap`]).
pub fn read_pcap_file(path: &Path) -> Result<Vec<Advert>, AdvertError> {
    let bytes = std::fs::read(path).map_err(|source| AdvertError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_pcap(&bytes)
}

/// [`read_pcap`] on a capture that is still being written: a record the writer has not
/// finished yet (or a header not written completely) is left out instead of being an error,
/// so a test can watch the wire while tcpdump runs.
pub fn read_pcap_so_far(bytes: &[u8]) -> Result<Vec<Advert>, AdvertError> {
    if bytes.len() < 24 {
        return Ok(Vec::new());
    }
    read_pcap(complete_records(bytes))
}

/// The file header and the records written completely so far.
fn complete_records(bytes: &[u8]) -> &[u8] {
    let big_endian = match u32_at(bytes, 0, false).unwrap_or(0) {
        0xd4c3_b2a1 | 0x4d3c_b2a1 => true,
        // Anything else, bad magic included, is the reader's to judge.
        _ => false,
    };
    let mut complete = 24;
    while let Some(incl) = u32_at(bytes, complete + 8, big_endian) {
        let end = usize::try_from(incl)
            .ok()
            .and_then(|n| (complete + 16).checked_add(n));
        match end {
            Some(end) if end <= bytes.len() => complete = end,
            _ => break,
        }
    }
    bytes.get(..complete).unwrap_or(bytes)
}

/// A gratuitous ARP (sender address = target address) seen in a capture: how a new VRRP
/// master announces the VIP, broadcast, so it reaches the wire even when a unicast advert
/// waits for the ARP resolution of a dead peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garp {
    /// Capture time, microseconds since the UNIX epoch.
    pub timestamp_us: u64,
    /// The announced address.
    pub addr: Ipv4Addr,
    /// The sender hardware address.
    pub mac: [u8; 6],
}

/// The gratuitous ARPs (IPv4 over Ethernet, request or reply, sender IP = target IP) in a
/// pcap capture, complete records only (the capture may still be written).
pub fn read_garps_so_far(bytes: &[u8]) -> Result<Vec<Garp>, AdvertError> {
    if bytes.len() < 24 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    pcap_records(
        complete_records(bytes),
        |linktype, data, _frame, ts, _cut| {
            let Some((ETHERTYPE_ARP, arp)) = link_payload(linktype, data) else {
                return;
            };
            // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, op 1 or 2.
            let fixed = [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00];
            if arp.get(..7) != Some(&fixed[..]) || !matches!(arp.get(7), Some(1 | 2)) {
                return;
            }
            let (Some(mac), Some(sender), Some(target)) = (
                arp.get(8..14).and_then(|m| <[u8; 6]>::try_from(m).ok()),
                ipv4_at(arp, 14),
                ipv4_at(arp, 24),
            ) else {
                return;
            };
            if sender == target {
                out.push(Garp {
                    timestamp_us: ts,
                    addr: sender,
                    mac,
                });
            }
        },
    )?;
    Ok(out)
}

/// Reads a classic pcap capture (`tcpdump -w`) and returns its VRRP packets in capture order:
/// IPv4 protocol 112, IPv4 AH (51) whose next header is 112, IPv6 next header 112 (after
/// hop-by-hop, routing or destination options headers, or AH). Everything else is skipped;
/// VRRP packets that are cut short or malformed come back with [`Advert::malformed`] set.
pub fn read_pcap(bytes: &[u8]) -> Result<Vec<Advert>, AdvertError> {
    let mut out = Vec::new();
    pcap_records(bytes, |linktype, data, frame, ts, cut| {
        if let Some(mut advert) = decode_frame(linktype, data, frame, ts) {
            if let Some((incl, orig)) = cut {
                if advert.malformed.is_none() {
                    // Not reachable in practice (the IP length check catches it first), but
                    // the pcap record says outright that bytes are missing.
                    advert.malformed = Some(format!("captured {incl} of {orig} bytes"));
                }
            }
            out.push(advert);
        }
    })?;
    Ok(out)
}

/// Walks a classic pcap file's records: `each(linktype, data, frame, timestamp_us, cut)`,
/// `cut` = `Some((captured, original length))` when the record holds less than the packet.
fn pcap_records(
    bytes: &[u8],
    mut each: impl FnMut(u32, &[u8], usize, u64, Option<(u32, u32)>),
) -> Result<(), AdvertError> {
    let header = bytes
        .get(..24)
        .ok_or(AdvertError::TooShort { len: bytes.len() })?;
    let magic_le = u32_at(header, 0, false).unwrap_or(0);
    let (big_endian, nanos) = match magic_le {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        0x0a0d_0d0a => return Err(AdvertError::Pcapng),
        other => return Err(AdvertError::BadMagic(other)),
    };
    // The upper bits may carry FCS information (LINKTYPE_ reference); the type is the low 16.
    let linktype = u32_at(header, 20, big_endian).unwrap_or(0) & 0xffff;
    if !matches!(
        linktype,
        LINKTYPE_ETHERNET
            | LINKTYPE_RAW
            | LINKTYPE_LINUX_SLL
            | LINKTYPE_IPV4
            | LINKTYPE_IPV6
            | LINKTYPE_LINUX_SLL2
    ) {
        return Err(AdvertError::UnsupportedLinkType(linktype));
    }
    let mut offset = 24;
    let mut frame = 0;
    while offset < bytes.len() {
        frame += 1;
        let truncated = AdvertError::TruncatedRecord { frame, offset };
        let rec = bytes.get(offset..offset + 16).ok_or(truncated)?;
        let (Some(sec), Some(frac), Some(incl)) = (
            u32_at(rec, 0, big_endian),
            u32_at(rec, 4, big_endian),
            u32_at(rec, 8, big_endian),
        ) else {
            return Err(AdvertError::TruncatedRecord { frame, offset });
        };
        let orig = u32_at(rec, 12, big_endian).unwrap_or(incl);
        let start = offset + 16;
        let end = usize::try_from(incl)
            .ok()
            .and_then(|n| start.checked_add(n))
            .filter(|&e| e <= bytes.len())
            .ok_or(AdvertError::TruncatedRecord { frame, offset })?;
        let data = bytes.get(start..end).unwrap_or_default();
        let frac_us = if nanos { frac / 1000 } else { frac };
        let ts = u64::from(sec) * 1_000_000 + u64::from(frac_us);
        each(
            linktype,
            data,
            frame,
            ts,
            (orig > incl).then_some((incl, orig)),
        );
        offset = end;
    }
    Ok(())
}

fn decode_frame(linktype: u32, data: &[u8], frame: usize, ts: u64) -> Option<Advert> {
    match link_payload(linktype, data)? {
        (ETHERTYPE_IPV4, ip) => decode_ipv4(ip, frame, ts),
        (ETHERTYPE_IPV6, ip) => decode_ipv6(ip, frame, ts),
        _ => None,
    }
}

/// The ethertype and payload of a captured frame (raw IP: by its version nibble).
fn link_payload(linktype: u32, data: &[u8]) -> Option<(u16, &[u8])> {
    Some(match linktype {
        LINKTYPE_ETHERNET => {
            let mut at = 12;
            let mut ethertype = u16_at(data, at)?;
            // 802.1Q / 802.1ad tags.
            while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
                at += 4;
                ethertype = u16_at(data, at)?;
            }
            (ethertype, data.get(at + 2..)?)
        }
        LINKTYPE_LINUX_SLL => (u16_at(data, 14)?, data.get(16..)?),
        LINKTYPE_LINUX_SLL2 => (u16_at(data, 0)?, data.get(20..)?),
        LINKTYPE_IPV4 => (ETHERTYPE_IPV4, data),
        LINKTYPE_IPV6 => (ETHERTYPE_IPV6, data),
        _ => match data.first()? >> 4 {
            4 => (ETHERTYPE_IPV4, data),
            6 => (ETHERTYPE_IPV6, data),
            _ => return None,
        },
    })
}

/// Decodes one IP packet (IPv4 or IPv6, by its version nibble) as [`read_pcap`] decodes each
/// captured one: `None` if it is not VRRP; `frame` and `timestamp_us` are 0.
pub fn decode_ip_packet(packet: &[u8]) -> Option<Advert> {
    match packet.first()? >> 4 {
        4 => decode_ipv4(packet, 0, 0),
        6 => decode_ipv6(packet, 0, 0),
        _ => None,
    }
}

/// What is known about the packet around the VRRP message, for the checksum.
struct IpContext {
    /// Pseudo-header bytes for the VRRPv3 checksum (without the length).
    src: Vec<u8>,
    dst: Vec<u8>,
    v6: bool,
}

fn decode_ipv4(p: &[u8], frame: usize, ts: u64) -> Option<Advert> {
    let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let protocol = *p.get(9)?;
    if protocol != IPPROTO_VRRP && protocol != IPPROTO_AH {
        return None;
    }
    let mut adv = Advert::empty(frame, ts, unspecified);
    adv.ip_protocol = protocol;
    let Some(fixed) = p.get(..20) else {
        adv.ip_packet = p.to_vec();
        adv.malformed = Some(format!("IPv4 header cut short: {} bytes", p.len()));
        return Some(adv);
    };
    adv.tos = *fixed.get(1)?;
    adv.ttl = *fixed.get(8)?;
    adv.src = IpAddr::V4(ipv4_at(fixed, 12)?);
    adv.dst = IpAddr::V4(ipv4_at(fixed, 16)?);
    let ihl = usize::from(fixed.first()? & 0x0f) * 4;
    let total = usize::from(u16_at(fixed, 2)?);
    let mut problems = Vec::new();
    if ihl < 20 {
        adv.ip_packet = p.to_vec();
        adv.malformed = Some(format!("IPv4 header length {ihl} < 20"));
        return Some(adv);
    }
    let end = if total > p.len() {
        problems.push(format!("captured {} of {total} IP bytes", p.len()));
        p.len()
    } else {
        total
    };
    adv.ip_packet = p.get(..end).unwrap_or(p).to_vec();
    let frag = u16_at(fixed, 6)?;
    if frag & 0x3fff != 0 {
        problems.push(format!("IPv4 fragment (flags/offset {frag:#06x})"));
    }
    let Some(payload) = p.get(ihl..end) else {
        problems.push(format!("IPv4 header length {ihl} beyond the packet"));
        adv.malformed = Some(problems.join("; "));
        return Some(adv);
    };
    let ctx = IpContext {
        src: fixed.get(12..16)?.to_vec(),
        dst: fixed.get(16..20)?.to_vec(),
        v6: false,
    };
    let vrrp = if protocol == IPPROTO_AH {
        match decode_ah(payload, &mut problems) {
            AhOutcome::NotVrrp => return None,
            AhOutcome::Vrrp(ah, rest) => {
                adv.ah = Some(ah);
                rest
            }
            AhOutcome::Broken => &[],
        }
    } else {
        payload
    };
    decode_vrrp(&mut adv, vrrp, &ctx, problems);
    Some(adv)
}

fn decode_ipv6(p: &[u8], frame: usize, ts: u64) -> Option<Advert> {
    let unspecified = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let first_next = *p.get(6)?;
    let Some(fixed) = p.get(..40) else {
        if first_next != IPPROTO_VRRP && first_next != IPPROTO_AH {
            return None;
        }
        let mut adv = Advert::empty(frame, ts, unspecified);
        adv.ip_protocol = first_next;
        adv.ip_packet = p.to_vec();
        adv.malformed = Some(format!("IPv6 header cut short: {} bytes", p.len()));
        return Some(adv);
    };
    let payload_len = usize::from(u16_at(fixed, 4)?);
    let mut problems = Vec::new();
    let end = if 40 + payload_len > p.len() {
        problems.push(format!(
            "captured {} of {} IP bytes",
            p.len(),
            40 + payload_len
        ));
        p.len()
    } else {
        40 + payload_len
    };
    let packet = p.get(..end)?;
    // Walk the extension headers to the upper-layer protocol.
    let mut next = first_next;
    let mut at = 40;
    let mut ah = None;
    let mut vrrp: Option<&[u8]> = None;
    for _ in 0..8 {
        match next {
            IPPROTO_VRRP => {
                vrrp = packet.get(at..);
                break;
            }
            IPPROTO_AH => {
                let rest = packet.get(at..)?;
                match decode_ah(rest, &mut problems) {
                    AhOutcome::NotVrrp => return None,
                    AhOutcome::Vrrp(h, body) => {
                        ah = Some(h);
                        vrrp = Some(body);
                    }
                    AhOutcome::Broken => vrrp = Some(&[]),
                }
                break;
            }
            // Hop-by-hop, routing, destination options: (len + 1) × 8 bytes.
            0 | 43 | 60 => {
                next = *packet.get(at)?;
                at += (usize::from(*packet.get(at + 1)?) + 1) * 8;
            }
            _ => return None,
        }
    }
    let vrrp = vrrp?;
    let mut adv = Advert::empty(frame, ts, unspecified);
    adv.ip_protocol = first_next;
    adv.tos = ((fixed.first()? & 0x0f) << 4) | (fixed.get(1)? >> 4);
    adv.ttl = *fixed.get(7)?;
    adv.src = IpAddr::V6(ipv6_at(fixed, 8)?);
    adv.dst = IpAddr::V6(ipv6_at(fixed, 24)?);
    adv.ah = ah;
    adv.ip_packet = packet.to_vec();
    let ctx = IpContext {
        src: fixed.get(8..24)?.to_vec(),
        dst: fixed.get(24..40)?.to_vec(),
        v6: true,
    };
    decode_vrrp(&mut adv, vrrp, &ctx, problems);
    Some(adv)
}

enum AhOutcome<'a> {
    NotVrrp,
    Vrrp(AhHeader, &'a [u8]),
    Broken,
}

/// Splits an AH header (RFC 4302 §2) off `p`; problems found are pushed to `problems`.
fn decode_ah<'a>(p: &'a [u8], problems: &mut Vec<String>) -> AhOutcome<'a> {
    let Some(&next_header) = p.first() else {
        problems.push("AH header missing".to_owned());
        return AhOutcome::Broken;
    };
    if next_header != IPPROTO_VRRP {
        return AhOutcome::NotVrrp;
    }
    let (Some(&payload_len), Some(reserved), Some(spi), Some(seq)) = (
        p.get(1),
        u16_at(p, 2),
        u32_at(p, 4, true),
        u32_at(p, 8, true),
    ) else {
        problems.push(format!("AH header cut short: {} bytes", p.len()));
        return AhOutcome::Broken;
    };
    let len = (usize::from(payload_len) + 2) * 4;
    if len < 12 {
        problems.push(format!("AH payload length {payload_len} too small"));
        return AhOutcome::Broken;
    }
    let (Some(icv), Some(rest)) = (p.get(12..len), p.get(len..)) else {
        problems.push(format!("AH header of {len} bytes, {} bytes there", p.len()));
        return AhOutcome::Broken;
    };
    AhOutcome::Vrrp(
        AhHeader {
            next_header,
            payload_len,
            reserved,
            spi,
            seq,
            icv: icv.to_vec(),
        },
        rest,
    )
}

/// Fills the VRRP fields of `adv` from `v` (the IP payload after any AH header).
fn decode_vrrp(adv: &mut Advert, v: &[u8], ctx: &IpContext, mut problems: Vec<String>) {
    adv.vrrp_len = v.len();
    let cut_short = !problems.is_empty();
    let finish = |adv: &mut Advert, problems: Vec<String>| {
        if !problems.is_empty() {
            adv.malformed = Some(problems.join("; "));
        }
    };
    let (Some(&b0), Some(&vrid), Some(&priority), Some(&count), Some(&b4), Some(&b5), Some(ck)) = (
        v.first(),
        v.get(1),
        v.get(2),
        v.get(3),
        v.get(4),
        v.get(5),
        u16_at(v, 6),
    ) else {
        problems.push(format!("VRRP header cut short: {} bytes", v.len()));
        return finish(adv, problems);
    };
    adv.version = b0 >> 4;
    adv.kind = b0 & 0x0f;
    adv.vrid = vrid;
    adv.priority = priority;
    adv.count = count;
    adv.checksum = ck;
    let n = usize::from(count);
    let (addr_size, expected) = if adv.version == 2 {
        adv.auth_type = Some(b4);
        adv.interval = Interval::Seconds(b5);
        (4, 8 + 4 * n + 8)
    } else {
        adv.v3_rsvd = b4 >> 4;
        adv.interval = Interval::Centiseconds(u16::from(b4 & 0x0f) << 8 | u16::from(b5));
        let size = if ctx.v6 { 16 } else { 4 };
        (size, 8 + size * n)
    };
    if adv.version != 2 && adv.version != 3 {
        problems.push(format!("unknown VRRP version {}", adv.version));
    }
    for i in 0..n {
        let at = 8 + i * addr_size;
        let addr = if addr_size == 16 {
            ipv6_at(v, at).map(IpAddr::V6)
        } else {
            ipv4_at(v, at).map(IpAddr::V4)
        };
        match addr {
            Some(a) => adv.addresses.push(a),
            None => break,
        }
    }
    if adv.version == 2 {
        let at = 8 + 4 * n;
        adv.auth_data = v.get(at..at + 8).and_then(|d| d.try_into().ok());
    }
    if cut_short {
        // Already said why (the capture or the IP/AH header); the lengths add nothing.
    } else if v.len() < expected {
        problems.push(format!(
            "VRRPv{} message with {count} addresses needs {expected} bytes, {} there",
            adv.version,
            v.len()
        ));
    } else if v.len() > expected {
        problems.push(format!(
            "{} bytes after the {expected}-byte VRRP message",
            v.len() - expected
        ));
    }
    adv.checksum_status = if cut_short {
        ChecksumStatus::Unverifiable
    } else if adv.version == 3 {
        let mut pseudo = Vec::with_capacity(40);
        pseudo.extend_from_slice(&ctx.src);
        pseudo.extend_from_slice(&ctx.dst);
        if ctx.v6 {
            pseudo.extend_from_slice(&u32::try_from(v.len()).unwrap_or(0).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, IPPROTO_VRRP]);
        } else {
            pseudo.extend_from_slice(&[0, IPPROTO_VRRP]);
            pseudo.extend_from_slice(&u16::try_from(v.len()).unwrap_or(0).to_be_bytes());
        }
        if inet_sum(&[&pseudo, v]) == 0xffff {
            ChecksumStatus::Valid
        } else if !ctx.v6 && inet_sum(&[v]) == 0xffff {
            ChecksumStatus::ValidWithoutPseudoHeader
        } else {
            ChecksumStatus::Invalid
        }
    } else if inet_sum(&[v]) == 0xffff {
        ChecksumStatus::Valid
    } else {
        ChecksumStatus::Invalid
    };
    adv.checksum_valid = adv.checksum_status == ChecksumStatus::Valid;
    finish(adv, problems);
}

/// The folded one's complement sum (RFC 1071) of the concatenated parts; a message whose
/// checksum is right sums to 0xffff. Every part but the last must have an even length.
fn inet_sum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for c in &mut chunks {
            if let [hi, lo] = c {
                sum += u32::from(u16::from_be_bytes([*hi, *lo]));
            }
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    u16::try_from(sum).unwrap_or(0xffff)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(s.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

fn ipv4_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(Ipv4Addr::from(s))
}

fn ipv6_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

/// MD5 (RFC 1321).
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(|sin(i + 1)| × 2^32).
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    for block in msg.chunks_exact(64) {
        let mut m = [0u32; 16];
        for (w, c) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(K[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 16];
    for (o, s) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&s.to_le_bytes());
    }
    out
}

/// HMAC-MD5 (RFC 2104).
fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&md5(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(data);
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&md5(&inner));
    md5(&outer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn read(name: &str) -> Vec<Advert> {
        read_pcap(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    /// (source, priority) of each run, and whether every run has at least `min` adverts
    /// except the priority-0 ones (exactly one each).
    fn run_shape(adverts: &[Advert]) -> Vec<(IpAddr, u8)> {
        let runs = runs(adverts);
        for r in &runs {
            if r.priority == 0 {
                assert_eq!(r.adverts, 1, "one priority-0 advert on shutdown: {r}");
            } else {
                assert!(r.adverts >= 2, "a master sends adverts repeatedly: {r}");
            }
        }
        runs.iter().map(|r| (r.src, r.priority)).collect()
    }

    /// A classic pcap file holding `packets` (timestamp µs, link-layer frame).
    fn pcap(big_endian: bool, nanos: bool, linktype: u32, packets: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let w32 = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let w16 = |out: &mut Vec<u8>, v: u16| {
            out.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let mut out = Vec::new();
        w32(&mut out, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        w16(&mut out, 2);
        w16(&mut out, 4);
        w32(&mut out, 0);
        w32(&mut out, 0);
        w32(&mut out, 65535);
        w32(&mut out, linktype);
        for (ts, frame) in packets {
            w32(&mut out, u32::try_from(ts / 1_000_000).unwrap());
            let frac = ts % 1_000_000;
            w32(
                &mut out,
                u32::try_from(if nanos { frac * 1000 } else { frac }).unwrap(),
            );
            w32(&mut out, u32::try_from(frame.len()).unwrap());
            w32(&mut out, u32::try_from(frame.len()).unwrap());
            out.extend_from_slice(frame);
        }
        out
    }

    #[test]
    fn md5_rfc1321_test_suite() {
        let cases: [(&str, &str); 7] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&md5(input.as_bytes())), want, "md5({input:?})");
        }
    }

    #[test]
    fn hmac_md5_rfc2104_test_vectors() {
        assert_eq!(
            hex(&hmac_md5(&[0x0b; 16], b"Hi There")),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hex(&hmac_md5(b"Jefe", b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hex(&hmac_md5(&[0xaa; 16], &[0xdd; 50])),
            "56be34521d144c88dbb8c733f0e8b3f6"
        );
        // RFC 2202 test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_md5(
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"
        );
    }

    #[test]
    fn v2_unicast_pass_is_what_the_config_says() {
        let adverts = read("v2-unicast-pass.pcap");
        // `tcpdump -nn -r v2-unicast-pass.pcap 'ip proto 112'` lists 8 (the ICMP errors that
        // quote a VRRP packet are not adverts).
        assert_eq!(adverts.len(), 8);
        let (n1, n2) = (v4("192.168.56.21"), v4("192.168.56.22"));
        for a in &adverts {
            assert_eq!(a.malformed, None, "{}", a.describe());
            assert_eq!((a.version, a.kind, a.vrid, a.count), (2, 1, 101, 1));
            // auth_pass mylittlesecret, truncated by keepalived to 8 characters.
            assert_eq!(a.auth_type, Some(1));
            assert_eq!(a.auth_data, Some(*b"mylittle"));
            assert_eq!(a.interval, Interval::Seconds(2));
            assert_eq!(a.interval_centis(), 200);
            assert!(a.checksum_valid, "{}", a.describe());
            assert_eq!(a.checksum_status, ChecksumStatus::Valid);
            assert_eq!((a.ttl, a.tos, a.ip_protocol), (255, 0xc0, IPPROTO_VRRP));
            assert_eq!(a.ah, None);
            assert_eq!(a.addresses, vec![v4("192.168.56.69")]);
            assert_eq!(a.vrrp_len, 20);
            // Unicast: to the one peer.
            assert_eq!(a.dst, if a.src == n1 { n2 } else { n1 });
        }
        assert_eq!(
            run_shape(&adverts),
            vec![(n1, 101), (n1, 0), (n2, 100), (n2, 0)]
        );
        let sources = by_source(&adverts);
        assert_eq!(sources.keys().copied().collect::<Vec<_>>(), vec![n1, n2]);
        for (src, list) in &sources {
            let steady: Vec<&Advert> = list.iter().copied().filter(|a| a.priority != 0).collect();
            for ms in intervals_ms(&steady) {
                assert!(
                    (1900..=2100).contains(&ms),
                    "{src}: advert_int 2 but {ms} ms"
                );
            }
        }
        // Checksum value as `tcpdump -x` shows it.
        assert_eq!(
            adverts[0].describe(),
            "v2 ADVERTISEMENT vrid=101 prio=101 count=1 auth=PASS(\"mylittle\") int=2s \
             cksum=0xc4ec(ok) ttl=255 tos=0xc0 192.168.56.21 -> 192.168.56.22 [192.168.56.69]"
        );
    }

    #[test]
    fn v2_multicast_ah_is_what_the_config_says() {
        let adverts = read("v2-multicast-ah.pcap");
        assert!(adverts.len() >= 6);
        let (n1, n2) = (v4("192.168.56.21"), v4("192.168.56.22"));
        let mut last_seq = None;
        for a in &adverts {
            assert_eq!(a.malformed, None, "{}", a.describe());
            assert_eq!((a.version, a.kind, a.vrid, a.count), (2, 1, 50, 1));
            assert_eq!(a.ip_protocol, IPPROTO_AH);
            assert_eq!((a.ttl, a.tos), (255, 0xc0));
            assert_eq!(a.dst, IpAddr::V4(VRRP_GROUP_V4));
            assert_eq!(a.interval, Interval::Seconds(1));
            assert_eq!(a.addresses, vec![v4("192.168.56.50")]);
            // RFC 2338 authentication type 2 (IP Authentication Header); no data in VRRP.
            assert_eq!(a.auth_type, Some(2));
            assert_eq!(a.auth_data, Some([0; 8]));
            assert!(a.checksum_valid, "{}", a.describe());
            let ah = a.ah.as_ref().unwrap();
            assert_eq!((ah.next_header, ah.payload_len, ah.reserved), (112, 4, 0));
            assert!(ah.spi_is_source(a.src), "SPI {:#x} from {}", ah.spi, a.src);
            assert_eq!(ah.icv.len(), 12);
            // HMAC-MD5-96 keyed with auth_pass as keepalived keeps it (8 characters).
            assert_eq!(a.verify_ah("cuongquach"), Some(true), "{}", a.describe());
            assert_eq!(a.verify_ah("cuongqua"), Some(true));
            assert_eq!(a.verify_ah("cuongqu"), Some(false));
            assert_eq!(a.verify_ah("wrong"), Some(false));
            // One sequence that the backup takes over from the master's adverts.
            if let Some(prev) = last_seq {
                assert_eq!(ah.seq, prev + 1, "{}", a.describe());
            }
            last_seq = Some(ah.seq);
        }
        assert_eq!(adverts[0].ah.as_ref().unwrap().seq, 1);
        assert_eq!(
            run_shape(&adverts),
            vec![(n1, 100), (n1, 0), (n2, 90), (n2, 0)]
        );
        // A changed byte breaks the ICV.
        let mut bad = adverts[0].ip_packet.clone();
        bad[20 + 24 + 2] ^= 0x01; // the priority
        let bad = decode_ip_packet(&bad).unwrap();
        assert_eq!(bad.verify_ah("cuongquach"), Some(false));
        assert!(!bad.checksum_valid);
        // No AH, no ICV to check.
        assert_eq!(read("v3-multicast.pcap")[0].verify_ah("x"), None);
    }

    #[test]
    fn v3_multicast_is_what_the_config_says() {
        let adverts = read("v3-multicast.pcap");
        let (n1, n2) = (v4("192.168.56.21"), v4("192.168.56.22"));
        for a in &adverts {
            assert_eq!(a.malformed, None, "{}", a.describe());
            assert_eq!((a.version, a.kind, a.vrid, a.count), (3, 1, 33, 2));
            assert_eq!((a.auth_type, a.auth_data, a.v3_rsvd), (None, None, 0));
            assert_eq!(a.interval, Interval::Centiseconds(100));
            assert_eq!(a.interval_centis(), 100);
            // RFC 5798 §5.2.8: with the pseudo-header, as keepalived does by default.
            assert_eq!(a.checksum_status, ChecksumStatus::Valid, "{}", a.describe());
            assert_eq!((a.ttl, a.tos, a.ip_protocol), (255, 0xc0, IPPROTO_VRRP));
            assert_eq!(a.dst, IpAddr::V4(VRRP_GROUP_V4));
            assert_eq!(a.addresses, vec![v4("192.168.56.31"), v4("192.168.56.32")]);
            assert_eq!(a.vrrp_len, 16);
        }
        assert_eq!(
            run_shape(&adverts),
            vec![(n1, 150), (n1, 0), (n2, 100), (n2, 0)]
        );
        let n1_steady: Vec<&Advert> = adverts
            .iter()
            .filter(|a| a.src == n1 && a.priority == 150)
            .collect();
        for ms in intervals_ms(&n1_steady) {
            assert!((950..=1050).contains(&ms), "advert_int 1 but {ms} ms");
        }
    }

    #[test]
    fn v3_ipv6_is_what_the_config_says() {
        let adverts = read("v3-ipv6.pcap");
        // Link-local sources (from the fixed MACs 02:00:00:00:00:2N).
        let (n1, n2) = (v6("fe80::ff:fe00:21"), v6("fe80::ff:fe00:22"));
        for a in &adverts {
            assert_eq!(a.malformed, None, "{}", a.describe());
            assert_eq!((a.version, a.kind, a.vrid, a.count), (3, 1, 66, 2));
            assert_eq!(a.interval, Interval::Centiseconds(100));
            assert!(a.checksum_valid, "{}", a.describe());
            assert_eq!((a.ttl, a.tos, a.ip_protocol), (255, 0xc0, IPPROTO_VRRP));
            assert_eq!(a.dst, IpAddr::V6(VRRP_GROUP_V6));
            assert_eq!(a.addresses, vec![v6("fd00:56::66"), v6("fd00:56::67")]);
            assert_eq!(a.vrrp_len, 8 + 2 * 16);
        }
        assert_eq!(
            run_shape(&adverts),
            vec![(n1, 150), (n1, 0), (n2, 100), (n2, 0)]
        );
    }

    #[test]
    fn cooked_captures_and_nanosecond_timestamps() {
        let sll2 = read("v3-multicast-any-sll2.pcap");
        let sll_ns = read("v3-multicast-any-sll-ns.pcap");
        assert_eq!(sll2.len(), 3);
        assert_eq!(sll_ns.len(), 3);
        let reference = &read("v3-multicast.pcap")[0];
        for (a, b) in sll2.iter().zip(&sll_ns) {
            // The same packets, seen by two tcpdumps at once (µs and ns precision).
            assert_eq!(a.timestamp_us, b.timestamp_us);
            assert_eq!(a.ip_packet, b.ip_packet);
            assert_eq!(a.src, v4("192.168.56.21"));
            assert_eq!(a.priority, 150);
            assert_eq!(diff_including_src(reference, a), vec![]);
        }
        assert!(sll2[0].timestamp_us > 1_700_000_000_000_000);
    }

    #[test]
    fn every_framing_and_byte_order_reads_the_same() {
        let mut originals = read("v2-multicast-ah.pcap");
        originals.extend(read("v3-ipv6.pcap").into_iter().take(3));
        let packets: Vec<(u64, Vec<u8>)> = originals
            .iter()
            .map(|a| (a.timestamp_us, a.ip_packet.clone()))
            .collect();
        let ethertype = |p: &[u8]| {
            if p[0] >> 4 == 4 {
                [0x08, 0x00]
            } else {
                [0x86, 0xdd]
            }
        };
        let framed = |f: &dyn Fn(&[u8]) -> Vec<u8>| -> Vec<(u64, Vec<u8>)> {
            packets.iter().map(|(t, p)| (*t, f(p))).collect()
        };
        let raw = framed(&|p| p.to_vec());
        let vlan_eth = framed(&|p| {
            let mut f = vec![
                1, 0, 0x5e, 0, 0, 0x12, 2, 0, 0, 0, 0, 0x21, 0x81, 0x00, 0, 7,
            ];
            f.extend_from_slice(&ethertype(p));
            f.extend_from_slice(p);
            f.extend_from_slice(&[0; 4]); // Ethernet padding / FCS after the IP packet
            f
        });
        let sll = framed(&|p| {
            let mut f = vec![0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0x21, 0, 0];
            f.extend_from_slice(&ethertype(p));
            f.extend_from_slice(p);
            f
        });
        let sll2 = framed(&|p| {
            let mut f = ethertype(p).to_vec();
            f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 2, 6, 2, 0, 0, 0, 0, 0x21, 0, 0]);
            f.extend_from_slice(p);
            f
        });
        let files = [
            pcap(false, false, 101, &raw),
            pcap(true, true, 101, &raw),
            pcap(true, false, 1, &vlan_eth),
            pcap(false, true, 113, &sll),
            pcap(true, false, 276, &sll2),
        ];
        for (i, file) in files.iter().enumerate() {
            let got = read_pcap(file).unwrap();
            assert_eq!(got.len(), originals.len(), "file {i}");
            for (n, (a, b)) in originals.iter().zip(&got).enumerate() {
                assert_eq!(diff_including_src(a, b), vec![], "file {i}");
                assert_eq!(a.timestamp_us, b.timestamp_us, "file {i}");
                assert_eq!(a.ip_packet, b.ip_packet, "file {i}");
                assert_eq!(b.frame, n + 1);
            }
        }
    }

    #[test]
    fn a_flipped_byte_makes_the_checksum_invalid() {
        for name in ["v2-unicast-pass.pcap", "v3-multicast.pcap", "v3-ipv6.pcap"] {
            let good = read(name).remove(0);
            let ip_header = if good.src.is_ipv4() { 20 } else { 40 };
            let mut bytes = good.ip_packet.clone();
            bytes[ip_header + 8] ^= 0x40; // the first address
            let bad = decode_ip_packet(&bytes).unwrap();
            assert_eq!(bad.checksum_status, ChecksumStatus::Invalid, "{name}");
            assert!(!bad.checksum_valid);
            assert_eq!(bad.checksum, good.checksum);
            assert_eq!(bad.malformed, None, "a bad checksum is not malformed");
            assert_eq!(diff(&good, &bad).len(), 2, "{:?}", diff(&good, &bad));
            assert!(bad.describe().contains("(BAD)"), "{}", bad.describe());
            // The source address: covered by VRRPv3's pseudo-header only.
            let mut bytes = good.ip_packet.clone();
            bytes[if good.src.is_ipv4() { 15 } else { 23 }] ^= 0x01;
            let moved = decode_ip_packet(&bytes).unwrap();
            assert_eq!(moved.checksum_valid, good.version == 2, "{name}");
        }
    }

    #[test]
    fn v3_checksum_without_pseudo_header_is_reported_as_such() {
        let good = read("v3-multicast.pcap").remove(0);
        let mut bytes = good.ip_packet.clone();
        bytes[26] = 0;
        bytes[27] = 0;
        let sum = !inet_sum(&[&bytes[20..]]);
        bytes[26..28].copy_from_slice(&sum.to_be_bytes());
        let as_v2 = decode_ip_packet(&bytes).unwrap();
        assert_eq!(
            as_v2.checksum_status,
            ChecksumStatus::ValidWithoutPseudoHeader
        );
        assert!(!as_v2.checksum_valid);
        assert_eq!(
            diff(&good, &as_v2),
            vec![FieldDiff {
                field: "checksum_valid",
                a: "ok".into(),
                b: "ok-as-v2".into()
            }]
        );
    }

    #[test]
    fn diff_of_a_priority_change_names_priority_only() {
        let adverts = read("v2-unicast-pass.pcap");
        let n1 = v4("192.168.56.21");
        let running = adverts.iter().find(|a| a.src == n1 && a.priority == 101);
        let stopping = adverts.iter().find(|a| a.src == n1 && a.priority == 0);
        let d = diff(running.unwrap(), stopping.unwrap());
        assert_eq!(
            d,
            vec![FieldDiff {
                field: "priority",
                a: "101".into(),
                b: "0".into()
            }]
        );
        assert_eq!(d[0].to_string(), "priority: 101 != 0");
        // Two nodes: multicast, so only the priority and (if asked) the source differ.
        let v3 = read("v3-multicast.pcap");
        let a = v3.iter().find(|a| a.priority == 150).unwrap();
        let b = v3.iter().find(|a| a.priority == 100).unwrap();
        let fields = |d: Vec<FieldDiff>| d.into_iter().map(|f| f.field).collect::<Vec<_>>();
        assert_eq!(fields(diff(a, b)), vec!["priority"]);
        assert_eq!(fields(diff_including_src(a, b)), vec!["src", "priority"]);
        // AH: sequence number and ICV differ from advert to advert, the SPI rule holds.
        let ah = read("v2-multicast-ah.pcap");
        let n2 = ah.iter().find(|a| a.priority == 90).unwrap();
        assert_eq!(fields(diff(&ah[0], n2)), vec!["priority"]);
        assert_eq!(
            fields(diff_including_src(&ah[0], n2)),
            vec!["src", "priority", "ah_spi"]
        );
        // Different versions: everything that differs is named.
        assert_eq!(
            fields(diff(&ah[0], a)),
            vec![
                "version",
                "vrid",
                "priority",
                "count",
                "auth_type",
                "auth_data",
                "interval",
                "ip_protocol",
                "addresses",
                "vrrp_len",
                "ah"
            ]
        );
    }

    #[test]
    fn malformed_packets_are_reported_and_the_rest_is_read() {
        let good = read("v3-multicast.pcap").remove(0).ip_packet;
        let mut frames = vec![(1, good[..30].to_vec())]; // cut short by the snap length
        let mut long = good.clone(); // 4 bytes more than 2 addresses need
        long.extend_from_slice(&[0; 4]);
        long[3] = 40;
        frames.push((2, long));
        let mut odd_count = good.clone(); // count says 3, only 2 there
        odd_count[23] = 3;
        frames.push((3, odd_count));
        let mut version = good.clone();
        version[20] = 0x51;
        frames.push((4, version));
        frames.push((5, good[..15].to_vec())); // IPv4 header cut short
        let mut ah_other = good.clone(); // AH carrying something else: skipped
        ah_other[9] = IPPROTO_AH;
        ah_other[20] = 17;
        frames.push((6, ah_other));
        let mut udp = good.clone(); // not VRRP: skipped
        udp[9] = 17;
        frames.push((7, udp));
        let mut fragment = good.clone();
        fragment[6] = 0x20;
        frames.push((8, fragment));
        frames.push((9, good.clone()));
        let got = read_pcap(&pcap(false, false, 101, &frames)).unwrap();
        let summary: Vec<(u64, bool)> = got
            .iter()
            .map(|a| (a.timestamp_us, a.malformed.is_some()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, true),
                (2, true),
                (3, true),
                (4, true),
                (5, true),
                (8, true),
                (9, false)
            ]
        );
        assert_eq!(
            got[0].malformed.as_deref(),
            Some("captured 30 of 36 IP bytes")
        );
        assert_eq!(got[0].checksum_status, ChecksumStatus::Unverifiable);
        assert_eq!(got[0].vrid, 33, "what is there is still decoded");
        assert!(got[1]
            .malformed
            .as_deref()
            .unwrap()
            .contains("4 bytes after"));
        assert!(got[2]
            .malformed
            .as_deref()
            .unwrap()
            .contains("needs 20 bytes"));
        assert_eq!(got[2].addresses.len(), 2);
        assert!(got[3].malformed.as_deref().unwrap().contains("version 5"));
        assert!(got[4]
            .describe()
            .contains("MALFORMED(IPv4 header cut short"));
        assert!(got[5].malformed.as_deref().unwrap().contains("fragment"));
    }

    #[test]
    fn broken_files_are_errors() {
        let file = fixture("v3-multicast.pcap");
        assert!(matches!(
            read_pcap(&file[..10]),
            Err(AdvertError::TooShort { len: 10 })
        ));
        assert!(matches!(
            read_pcap(&[0u8; 24]),
            Err(AdvertError::BadMagic(0))
        ));
        let mut ng = file.clone();
        ng[..4].copy_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a]);
        assert!(matches!(read_pcap(&ng), Err(AdvertError::Pcapng)));
        let mut other = file.clone();
        other[20] = 105; // 802.11
        assert!(matches!(
            read_pcap(&other),
            Err(AdvertError::UnsupportedLinkType(105))
        ));
        let cut = read_pcap(&file[..file.len() - 1]);
        assert!(
            matches!(cut, Err(AdvertError::TruncatedRecord { .. })),
            "{cut:?}"
        );
        assert!(cut.unwrap_err().to_string().contains("cut short"));
        let missing = read_pcap_file(Path::new("/nonexistent/x.pcap")).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/x.pcap"));
        assert!(std::error::Error::source(&missing).is_some());
        assert_eq!(read_pcap(&file[..24]).unwrap(), vec![]);
    }

    /// xorshift64* (deterministic; no dependency).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
        }
    }

    #[test]
    fn a_capture_being_written_reads_as_the_adverts_complete_so_far() {
        for name in ["v2-unicast-pass.pcap", "v3-multicast-any-sll-ns.pcap"] {
            let bytes = fixture(name);
            let all = read(name);
            assert_eq!(read_pcap_so_far(&bytes).unwrap(), all, "{name}");
            let mut seen = 0;
            for cut in 0..=bytes.len() {
                let so_far = read_pcap_so_far(&bytes[..cut])
                    .unwrap_or_else(|e| panic!("{name} cut at {cut}: {e}"));
                // Only whole records, in order, and never fewer than before.
                assert!(so_far.len() >= seen && so_far.len() <= all.len());
                assert_eq!(so_far[..], all[..so_far.len()], "{name} cut at {cut}");
                seen = so_far.len();
            }
            assert_eq!(seen, all.len());
        }
    }

    /// An Ethernet ARP frame (RFC 826): `op` 1 request / 2 reply.
    fn arp_frame(op: u8, mac: [u8; 6], sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, op]);
        f.extend_from_slice(&mac);
        f.extend_from_slice(&sender);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&target);
        f
    }

    #[test]
    fn gratuitous_arps_are_the_ones_announcing_their_own_sender_address() {
        let mac = [0x02, 0, 0, 0, 0, 0x22];
        let vip = [192, 168, 56, 69];
        let bytes = pcap(
            false,
            false,
            LINKTYPE_ETHERNET,
            &[
                // A client resolving the VIP: not gratuitous.
                (1_000_000, arp_frame(1, mac, [192, 168, 56, 100], vip)),
                (2_000_000, arp_frame(1, mac, vip, vip)),
                (2_000_100, arp_frame(2, mac, vip, vip)),
                // A VRRP advert is not an ARP.
                (3_000_000, fixture("v2-unicast-pass.pcap")[40..100].to_vec()),
            ],
        );
        let want = |ts| Garp {
            timestamp_us: ts,
            addr: Ipv4Addr::from(vip),
            mac,
        };
        assert_eq!(
            read_garps_so_far(&bytes).unwrap(),
            vec![want(2_000_000), want(2_000_100)]
        );
        // The second GARP half written (the advert, 16 + 60 bytes, not yet): complete
        // records only.
        let cut = bytes.len() - 76 - 30;
        assert_eq!(
            read_garps_so_far(&bytes[..cut]).unwrap(),
            vec![want(2_000_000)]
        );
        assert_eq!(read_garps_so_far(&bytes[..10]).unwrap(), vec![]);
    }

    #[test]
    fn truncated_and_mutated_captures_never_panic() {
        let files: Vec<Vec<u8>> = [
            "v2-unicast-pass.pcap",
            "v2-multicast-ah.pcap",
            "v3-multicast.pcap",
            "v3-ipv6.pcap",
            "v3-multicast-any-sll2.pcap",
            "v3-multicast-any-sll-ns.pcap",
        ]
        .iter()
        .map(|n| fixture(n))
        .collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut decoded = 0usize;
        for _ in 0..5000 {
            let mut bytes = files[rng.below(files.len())].clone();
            let op = rng.below(4);
            if op == 0 || op == 3 {
                let keep = rng.below(bytes.len() + 1);
                bytes.truncate(keep);
            }
            if op >= 1 && !bytes.is_empty() {
                for _ in 0..1 + rng.below(8) {
                    // Mostly past the file header, where the packets are.
                    let at = if rng.below(8) == 0 || bytes.len() <= 24 {
                        rng.below(bytes.len())
                    } else {
                        24 + rng.below(bytes.len() - 24)
                    };
                    bytes[at] = match rng.below(3) {
                        0 => bytes[at] ^ (1 << rng.below(8)),
                        1 => [0x00, 0xff, 0x70, 0x33, 0x45, 0x60][rng.below(6)],
                        _ => u8::try_from(rng.next() & 0xff).unwrap(),
                    };
                }
            }
            let _ = read_pcap_so_far(&bytes);
            let _ = read_garps_so_far(&bytes);
            if let Ok(adverts) = read_pcap(&bytes) {
                for w in adverts.windows(2) {
                    let _ = diff_including_src(&w[0], &w[1]);
                }
                for a in &adverts {
                    decoded += 1;
                    let _ = a.describe();
                    let _ = a.verify_ah("cuongquach");
                    let cut = rng.below(a.ip_packet.len() + 1);
                    let _ = decode_ip_packet(&a.ip_packet[..cut]);
                }
                let _ = runs(&adverts);
                for list in by_source(&adverts).values() {
                    let _ = intervals_ms(list);
                }
            }
        }
        assert!(decoded > 1000, "the mutations left too little to decode");
    }
}
