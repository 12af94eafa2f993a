//! `bind ... ssl`: TLS termination as HAProxy 2.6 configures it, on rustls (ring).
//!
//! Pure parts first (unit-tested without sockets):
//! - [`TlsVersion`] and [`plan_versions`]: `ssl-min-ver`/`ssl-max-ver`/`no-*`/`force-*`
//!   from the bind and `ssl-default-bind-options`, with the rules and warnings of
//!   `ssl_sock_initial_ctx()` (TLSv1.2 minimum by default, `no-*` ignored next to a
//!   min/max, holes, "all versions disabled"). rustls implements TLS 1.2 and 1.3 only:
//!   older versions a configuration enables are not offered (a warning says so).
//! - [`plan_ciphers`]: the OpenSSL cipher list (`ciphers`, `ssl-default-bind-ciphers`) and
//!   TLS 1.3 `ciphersuites` mapped onto rustls' suites by name and by OpenSSL's keywords;
//!   what cannot be mapped is a warning.
//! - [`subject_names`]: the CN and `subjectAltName` DNS names of a DER certificate (a small
//!   DER walk, total on any input), and [`CertStore::select`]: HAProxy's SNI choice
//!   (exact name, then `*.domain` for the first label only, else the first certificate
//!   loaded).
//! - [`load_crt`]: a `crt` FILE (chain and key in one PEM, else `FILE.key`) or DIR (every
//!   file in alphabetical order but dot files and `.key`/`.ocsp`/`.issuer`/`.sctl`), with
//!   HAProxy's messages.
//!
//! Then [`TlsTerminator`] (one per `bind` line: the rustls config) and its
//! [`TlsTerminator::handshake`], which runs under `timeout client` and classifies a
//! failure as `session_kill_embryonic()` logs it ([`HandshakeError`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use haproxy_conf::model::{Bind, BindAddress, Global};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;

use crate::client_stream::ClientStream;
use crate::error::ProxyError;

/// The protocol versions HAProxy 2.6 knows (`methodVersions[]`), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    pub const ALL: [TlsVersion; 5] = [
        TlsVersion::Ssl3,
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
    ];

    /// As `ssl-min-ver` writes it (and HAProxy's messages name it).
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "SSLv3",
            TlsVersion::Tls10 => "TLSv1.0",
            TlsVersion::Tls11 => "TLSv1.1",
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    fn from_name(name: &str) -> Option<TlsVersion> {
        TlsVersion::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The suffix of `no-X` / `force-X`.
    fn from_option(suffix: &str) -> Option<TlsVersion> {
        Some(match suffix {
            "sslv3" => TlsVersion::Ssl3,
            "tlsv10" => TlsVersion::Tls10,
            "tlsv11" => TlsVersion::Tls11,
            "tlsv12" => TlsVersion::Tls12,
            "tlsv13" => TlsVersion::Tls13,
            _ => return None,
        })
    }
}

/// A `tls_version_filter`: the `no-*` flags and the min/max of one scope (the bind line or
/// `ssl-default-bind-options`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionFilter {
    pub min: Option<TlsVersion>,
    pub max: Option<TlsVersion>,
    pub disabled: Vec<TlsVersion>,
}

impl VersionFilter {
    /// Applies one option word (`no-tlsv13`, `force-tlsv12`, `ssl-min-ver V`…); other
    /// words are not about versions and are left alone (`false`).
    fn apply(&mut self, word: &str, value: Option<&str>) -> bool {
        if let Some(v) = word.strip_prefix("no-").and_then(TlsVersion::from_option) {
            if !self.disabled.contains(&v) {
                self.disabled.push(v);
            }
        } else if let Some(v) = word
            .strip_prefix("force-")
            .and_then(TlsVersion::from_option)
        {
            self.min = Some(v);
            self.max = Some(v);
        } else if word == "ssl-min-ver" || word == "ssl-max-ver" {
            let Some(v) = value.and_then(TlsVersion::from_name) else {
                return false;
            };
            if word == "ssl-min-ver" {
                self.min = Some(v);
            } else {
                self.max = Some(v);
            }
        } else {
            return false;
        }
        true
    }
}

/// How the messages of one bind name it (`Proxy 'fe': ... for bind 'ADDR' at [FILE:LINE]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindName {
    pub proxy: String,
    pub address: String,
    pub file: String,
    pub line: u32,
}

impl BindName {
    fn suffix(&self) -> String {
        format!(
            "for bind '{}' at [{}:{}]",
            self.address, self.file, self.line
        )
    }
}

/// The versions a bind offers (rustls': TLS 1.2 and 1.3 at most) and the warnings
/// HAProxy (and ha-compat's own limits) give about them. `Err`: nothing left to offer.
pub fn plan_versions(
    global: &VersionFilter,
    bind: &VersionFilter,
    name: &BindName,
) -> Result<(Vec<TlsVersion>, Vec<String>), String> {
    let mut warnings = Vec::new();
    let proxy = &name.proxy;
    // ssl_sock_fill_bind_conf(): flags are OR'ed, min/max taken from the global when the
    // bind has none.
    let mut disabled = global.disabled.clone();
    disabled.extend(bind.disabled.iter().copied());
    let min = bind.min.or(global.min);
    let max = bind.max.or(global.max);
    // ssl_sock_initial_ctx()
    if !disabled.is_empty() && (min.is_some() || max.is_some()) {
        warnings.push(format!(
            "Proxy '{proxy}': no-sslv3/no-tlsv1x are ignored {}. Use only 'ssl-min-ver' and \
             'ssl-max-ver' to fix.",
            name.suffix()
        ));
        disabled.clear();
    }
    let default_min = TlsVersion::Tls12;
    let min = match (min, max) {
        (Some(min), _) => min,
        (None, Some(max)) if max < default_min => {
            warnings.push(format!(
                "Proxy '{proxy}': Ambiguous configuration for bind '{}' at [{}:{}]: the \
                 ssl-min-ver value is not configured and the ssl-max-ver value is lower than \
                 the default ssl-min-ver value ({}). Setting the ssl-min-ver to {}. Use \
                 'ssl-min-ver' to fix this.",
                name.address,
                name.file,
                name.line,
                default_min.name(),
                max.name()
            ));
            max
        }
        (None, _) => default_min,
    };
    let max = max.unwrap_or(TlsVersion::Tls13);
    let mut enabled = Vec::new();
    let mut hole = None;
    for v in TlsVersion::ALL {
        if v >= min && v <= max && !disabled.contains(&v) {
            if let (Some(h), false) = (hole.take(), enabled.is_empty()) {
                warnings.push(format!(
                    "Proxy '{proxy}': SSL/TLS versions range not contiguous {}. Hole find for \
                     {}. Use only 'ssl-min-ver' and 'ssl-max-ver' to fix.",
                    name.suffix(),
                    TlsVersion::name(h)
                ));
            }
            enabled.push(v);
        } else if !enabled.is_empty() {
            hole = Some(v);
        }
    }
    if enabled.is_empty() {
        return Err(format!(
            "Proxy '{proxy}': all SSL/TLS versions are disabled {}.",
            name.suffix()
        ));
    }
    let (offered, dropped): (Vec<TlsVersion>, Vec<TlsVersion>) =
        enabled.into_iter().partition(|v| *v >= TlsVersion::Tls12);
    if !dropped.is_empty() {
        let names: Vec<&str> = dropped.iter().map(|v| v.name()).collect();
        let what = format!(
            "Proxy '{proxy}': ha-compat does not offer {} {} (rustls implements TLSv1.2 and \
             TLSv1.3 only)",
            names.join(", "),
            name.suffix()
        );
        if offered.is_empty() {
            return Err(format!("{what}: no SSL/TLS version left to offer."));
        }
        warnings.push(format!("{what}."));
    }
    Ok((offered, warnings))
}

/// What OpenSSL's cipher-list keywords say about one rustls TLS 1.2 suite.
struct Tls12Suite {
    openssl: &'static str,
    suite: CipherSuite,
    /// OpenSSL aliases (`SSL_TXT_*`) that select it.
    keywords: &'static [&'static str],
}

/// In OpenSSL 3's `DEFAULT` order (`openssl ciphers DEFAULT`): keywords expand in it,
/// and with server preference it decides the suite agreed.
const TLS12_SUITES: &[Tls12Suite] = &[
    Tls12Suite {
        openssl: "ECDHE-ECDSA-AES256-GCM-SHA384",
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        keywords: &["aECDSA", "ECDSA", "AES256", "AES", "AESGCM", "SHA384"],
    },
    Tls12Suite {
        openssl: "ECDHE-RSA-AES256-GCM-SHA384",
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        keywords: &["aRSA", "AES256", "AES", "AESGCM", "SHA384"],
    },
    Tls12Suite {
        openssl: "ECDHE-ECDSA-CHACHA20-POLY1305",
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        keywords: &["aECDSA", "ECDSA", "CHACHA20", "SHA256"],
    },
    Tls12Suite {
        openssl: "ECDHE-RSA-CHACHA20-POLY1305",
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        keywords: &["aRSA", "CHACHA20", "SHA256"],
    },
    Tls12Suite {
        openssl: "ECDHE-ECDSA-AES128-GCM-SHA256",
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        keywords: &["aECDSA", "ECDSA", "AES128", "AES", "AESGCM", "SHA256"],
    },
    Tls12Suite {
        openssl: "ECDHE-RSA-AES128-GCM-SHA256",
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        keywords: &["aRSA", "AES128", "AES", "AESGCM", "SHA256"],
    },
];

/// Keywords every rustls TLS 1.2 suite has (ECDHE key exchange, AEAD, "HIGH").
const TLS12_COMMON: &[&str] = &[
    "ALL", "DEFAULT", "HIGH", "ECDHE", "EECDH", "kECDHE", "kEECDH", "AEAD", "TLSv1.2",
];

/// OpenSSL keywords that select nothing rustls has (ciphers it does not implement):
/// `!aNULL:!MD5` and friends are then no-ops, not warnings.
const OPENSSL_NOTHING: &[&str] = &[
    "aNULL",
    "eNULL",
    "NULL",
    "MD5",
    "RC4",
    "DES",
    "3DES",
    "EXP",
    "EXPORT",
    "LOW",
    "MEDIUM",
    "PSK",
    "SRP",
    "DSS",
    "aDSS",
    "CAMELLIA",
    "SEED",
    "IDEA",
    "ADH",
    "AECDH",
    "kRSA",
    "RSA",
    "kDHE",
    "DHE",
    "EDH",
    "kEDH",
    "DH",
    "SHA1",
    "SHA",
    "AESCCM",
    "AESCCM8",
    "ARIA",
    "SSLv3",
    "TLSv1",
    "TLSv1.0",
    "aGOST",
    "GOST",
    "kPSK",
    "kECDHEPSK",
    "kDHEPSK",
    "kRSAPSK",
    "aPSK",
    "eNULL",
    "COMPLEMENTOFDEFAULT",
    "COMPLEMENTOFALL",
    "ECDH",
    "kECDH",
];

/// The TLS 1.3 suites rustls (ring) has, by their OpenSSL/IANA names, in OpenSSL 3's
/// default `ciphersuites` order (haproxy 2.6.12 agrees on TLS_AES_256_GCM_SHA384 with
/// `openssl s_client`).
const TLS13_SUITES: &[(&str, CipherSuite)] = &[
    (
        "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_128_GCM_SHA256,
    ),
];

/// Does one cipher-list term (`A`, `A+B`) select `suite`? `None`: a word ha-compat
/// does not know.
fn term_selects(term: &str, suite: &Tls12Suite) -> Option<bool> {
    if term == suite.openssl {
        return Some(true);
    }
    let mut all = true;
    for word in term.split('+') {
        let has = suite.keywords.contains(&word) || TLS12_COMMON.contains(&word);
        let known = has
            || OPENSSL_NOTHING.contains(&word)
            || TLS12_SUITES.iter().any(|s| s.keywords.contains(&word));
        if !known {
            return None;
        }
        all &= has;
    }
    Some(all)
}

/// The suites a bind offers, in preference order, and warnings for what the lists ask
/// that rustls does not have. `None` lists: rustls' defaults (all of its AEAD suites;
/// OpenSSL's default also has CBC suites, which rustls does not implement).
pub fn plan_ciphers(
    ciphers: Option<&str>,
    ciphersuites: Option<&str>,
    name: &BindName,
) -> (Vec<CipherSuite>, Vec<String>) {
    let mut warnings = Vec::new();
    let proxy = &name.proxy;
    let split = |list: &str| -> Vec<String> {
        list.split([':', ',', ' ', ';'])
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut tls12: Vec<CipherSuite> = Vec::new();
    match ciphers {
        None => tls12.extend(TLS12_SUITES.iter().map(|s| s.suite)),
        Some(list) => {
            let mut removed: Vec<CipherSuite> = Vec::new();
            let mut not_offered = Vec::new();
            let mut not_understood = Vec::new();
            for item in split(list) {
                if item.starts_with('@') {
                    // @STRENGTH, @SECLEVEL=n: orderings and levels rustls has no use for.
                    not_understood.push(item);
                    continue;
                }
                let (exclude, term) = match item.as_bytes().first() {
                    Some(b'!') | Some(b'-') => (true, &item[1..]),
                    Some(b'+') => {
                        // "+X": moves X to the end; ordering only.
                        continue;
                    }
                    _ => (false, item.as_str()),
                };
                let mut known = true;
                let mut selected = Vec::new();
                for suite in TLS12_SUITES {
                    match term_selects(term, suite) {
                        Some(true) => selected.push(suite.suite),
                        Some(false) => {}
                        None => known = false,
                    }
                }
                if exclude {
                    if !known {
                        not_understood.push(item.clone());
                    }
                    // OpenSSL's "!": never to be added back; "-": removed for now.
                    for s in selected {
                        tls12.retain(|x| *x != s);
                        if item.starts_with('!') {
                            removed.push(s);
                        }
                    }
                } else if selected.is_empty() {
                    if known || looks_like_cipher_name(term) {
                        not_offered.push(item.clone());
                    } else {
                        not_understood.push(item.clone());
                    }
                } else {
                    for s in selected {
                        if !tls12.contains(&s) && !removed.contains(&s) {
                            tls12.push(s);
                        }
                    }
                }
            }
            if !not_offered.is_empty() {
                warnings.push(format!(
                    "Proxy '{proxy}': cipher(s) '{}' not offered {} (rustls does not \
                     implement them).",
                    not_offered.join(":"),
                    name.suffix()
                ));
            }
            if !not_understood.is_empty() {
                warnings.push(format!(
                    "Proxy '{proxy}': cipher list element(s) '{}' ignored {} (ha-compat \
                     cannot map them onto rustls).",
                    not_understood.join(":"),
                    name.suffix()
                ));
            }
        }
    }
    let mut tls13: Vec<CipherSuite> = Vec::new();
    match ciphersuites {
        None => tls13.extend(TLS13_SUITES.iter().map(|(_, s)| *s)),
        Some(list) => {
            let mut unknown = Vec::new();
            for item in split(list) {
                match TLS13_SUITES.iter().find(|(n, _)| *n == item) {
                    Some((_, s)) if !tls13.contains(s) => tls13.push(*s),
                    Some(_) => {}
                    None => unknown.push(item),
                }
            }
            if !unknown.is_empty() {
                warnings.push(format!(
                    "Proxy '{proxy}': ciphersuite(s) '{}' not offered {} (rustls does not \
                     implement them).",
                    unknown.join(":"),
                    name.suffix()
                ));
            }
        }
    }
    tls13.extend(tls12);
    (tls13, warnings)
}

/// `DHE-RSA-AES128-SHA`-like: an OpenSSL cipher name rather than a keyword.
fn looks_like_cipher_name(term: &str) -> bool {
    term.contains('-') && !term.contains('+')
}

/// Reads DER: tag and contents of the next element.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { rest: bytes }
    }

    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.rest.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let mut len = 0usize;
            for &b in &rest[..n] {
                len = (len << 8) | usize::from(b);
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (contents, after) = rest.split_at(len);
        self.rest = after;
        Some((tag, contents))
    }

    /// The next element whole (tag and length included).
    fn next_whole(&mut self) -> Option<&'a [u8]> {
        let before = self.rest;
        self.next()?;
        Some(&before[..before.len() - self.rest.len()])
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, c) if t == tag => Some(c),
            _ => None,
        }
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
/// id-at-commonName (2.5.4.3).
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
/// id-ce-subjectAltName (2.5.29.17).
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// The names HAProxy indexes a certificate under for SNI (`ckch_inst_new_load_store()`):
/// its `subjectAltName` DNS names, then its subject's CNs, lowercased. `None`: not a
/// certificate this reader understands.
pub fn subject_names(der: &[u8]) -> Option<Vec<String>> {
    certificate_facts(der).map(|(names, _)| names)
}

/// [`subject_names`] and the certificate's SubjectPublicKeyInfo (whole DER element).
fn certificate_facts(der: &[u8]) -> Option<(Vec<String>, &[u8])> {
    let certificate = Der::new(der).expect(SEQUENCE)?;
    let mut tbs = Der::new(Der::new(certificate).expect(SEQUENCE)?);
    if tbs.next()?.0 == 0xa0 {
        // That was [0] version; the serial number follows.
        let _serial = tbs.next()?;
    }
    let _signature = tbs.expect(SEQUENCE)?;
    let _issuer = tbs.expect(SEQUENCE)?;
    let _validity = tbs.expect(SEQUENCE)?;
    let subject = tbs.expect(SEQUENCE)?;
    let spki = tbs.next_whole()?;
    if spki.first() != Some(&SEQUENCE) {
        return None;
    }
    let mut names = Vec::new();
    while let Some((tag, contents)) = tbs.next() {
        if tag != 0xa3 {
            continue; // issuerUniqueID, subjectUniqueID
        }
        let mut extensions = Der::new(Der::new(contents).expect(SEQUENCE)?);
        while let Some(extension) = extensions.expect(SEQUENCE) {
            let mut fields = Der::new(extension);
            if fields.expect(OID)? != OID_SAN {
                continue;
            }
            let mut value = fields.next()?;
            if value.0 == 0x01 {
                value = fields.next()?; // critical
            }
            if value.0 != 0x04 {
                return None;
            }
            let mut general_names = Der::new(Der::new(value.1).expect(SEQUENCE)?);
            while let Some((tag, name)) = general_names.next() {
                // [2] dNSName (IA5String, implicit)
                if tag == 0x82 {
                    names.push(String::from_utf8_lossy(name).to_lowercase());
                }
            }
        }
    }
    let mut rdns = Der::new(subject);
    while let Some(rdn) = rdns.expect(SET) {
        let mut attributes = Der::new(rdn);
        while let Some(attribute) = attributes.expect(SEQUENCE) {
            let mut fields = Der::new(attribute);
            if fields.expect(OID)? == OID_CN {
                let (_, value) = fields.next()?;
                names.push(String::from_utf8_lossy(value).to_lowercase());
            }
        }
    }
    Some((names, spki))
}

/// One certificate loaded from a `crt`.
#[derive(Debug)]
pub struct LoadedCert {
    pub file: PathBuf,
    /// Its CN and SAN DNS names, lowercased (wildcards as `*.domain`).
    pub names: Vec<String>,
    pub key: Arc<CertifiedKey>,
}

/// Why a `crt` cannot be loaded, with HAProxy 2.6's texts (`ssl_sock_load_pem_into_ckch()`,
/// `ssl_sock_load_files_into_ckch()`, checked with haproxy 2.6.12 `-c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrtError {
    Stat(PathBuf, String),
    NoCertificate(PathBuf),
    NoKey(PathBuf),
    /// A key rustls (ring) cannot sign with (DSA, a curve it lacks…).
    UnsupportedKey(PathBuf),
    Mismatch(PathBuf),
}

impl std::fmt::Display for CrtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrtError::Stat(p, e) => write!(
                f,
                "unable to stat SSL certificate from file '{}' : {e}.",
                p.display()
            ),
            CrtError::NoCertificate(p) => {
                write!(f, "unable to load certificate from file '{}'.", p.display())
            }
            CrtError::NoKey(p) => write!(f, "No Private Key found in '{}.key'.", p.display()),
            CrtError::UnsupportedKey(p) => write!(
                f,
                "unable to load the private key of '{}' (ha-compat's TLS supports RSA, ECDSA \
                 P-256/P-384 and Ed25519 keys).",
                p.display()
            ),
            CrtError::Mismatch(p) => write!(
                f,
                "inconsistencies between private key and certificate loaded '{}'.",
                p.display()
            ),
        }
    }
}

/// The first private key of a PEM text (PKCS#8, PKCS#1 RSA or SEC1 EC), if any.
fn pem_key(pem: &[u8]) -> Option<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).ok()
}

/// One PEM file as HAProxy reads a `crt`: its certificates (the first is the server's,
/// the others its chain) and its key, else the key of `FILE.key`.
pub fn load_pem_file(path: &Path, provider: &CryptoProvider) -> Result<LoadedCert, CrtError> {
    let bytes = std::fs::read(path).map_err(|_| CrtError::NoCertificate(path.to_path_buf()))?;
    parse_pem(&bytes, path, provider, || {
        let mut key_path = path.as_os_str().to_owned();
        key_path.push(".key");
        std::fs::read(key_path).ok()
    })
}

/// [`load_pem_file`] on bytes already read; `key_file` reads `FILE.key` when the PEM has
/// no key. Total: any input gives a certificate or a [`CrtError`].
pub fn parse_pem(
    bytes: &[u8],
    path: &Path,
    provider: &CryptoProvider,
    key_file: impl FnOnce() -> Option<Vec<u8>>,
) -> Result<LoadedCert, CrtError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|_| CrtError::NoCertificate(path.to_path_buf()))?;
    let Some(first) = chain.first() else {
        return Err(CrtError::NoCertificate(path.to_path_buf()));
    };
    let (names, spki) = certificate_facts(first.as_ref())
        .ok_or_else(|| CrtError::NoCertificate(path.to_path_buf()))?;
    let spki = spki.to_vec();
    let key = match pem_key(bytes) {
        Some(k) => k,
        None => key_file()
            .and_then(|b| pem_key(&b))
            .ok_or_else(|| CrtError::NoKey(path.to_path_buf()))?,
    };
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|_| CrtError::UnsupportedKey(path.to_path_buf()))?;
    // Compared here rather than with CertifiedKey::keys_match(), whose webpki parse
    // refuses X.509 v1 certificates (which OpenSSL, hence HAProxy, serves).
    if signing
        .public_key()
        .is_some_and(|k| k.as_ref() != spki.as_slice())
    {
        return Err(CrtError::Mismatch(path.to_path_buf()));
    }
    let key = CertifiedKey::new(chain, signing);
    Ok(LoadedCert {
        file: path.to_path_buf(),
        names,
        key: Arc::new(key),
    })
}

/// Files of a `crt DIR` HAProxy loads (`ssl_sock_load_cert()`): alphabetical order
/// (`scandir(alphasort)`), no dot files, none of the reserved extensions.
pub fn crt_dir_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.file_name())
        .collect();
    // alphasort() is strcoll(); in the C locale HAProxy runs in, that is byte order.
    names.sort();
    Ok(names
        .into_iter()
        .filter(|n| {
            let s = n.to_string_lossy();
            !s.starts_with('.')
                && ![".key", ".ocsp", ".issuer", ".sctl"]
                    .iter()
                    .any(|ext| s.ends_with(ext))
        })
        .map(|n| dir.join(n))
        .collect())
}

/// Everything a `crt` path gives: one certificate (FILE) or those of a DIR.
pub fn load_crt(path: &Path, provider: &CryptoProvider) -> Result<Vec<LoadedCert>, CrtError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let text = match e.kind() {
            std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
            _ => e.to_string(),
        };
        CrtError::Stat(path.to_path_buf(), text)
    })?;
    if !meta.is_dir() {
        return Ok(vec![load_pem_file(path, provider)?]);
    }
    let files =
        crt_dir_files(path).map_err(|e| CrtError::Stat(path.to_path_buf(), e.to_string()))?;
    files.iter().map(|f| load_pem_file(f, provider)).collect()
}

/// The certificates of one bind and HAProxy's SNI choice among them.
#[derive(Debug)]
pub struct CertStore {
    certs: Vec<LoadedCert>,
    /// `strict-sni`: no default certificate.
    strict_sni: bool,
}

impl CertStore {
    pub fn new(certs: Vec<LoadedCert>, strict_sni: bool) -> CertStore {
        CertStore { certs, strict_sni }
    }

    pub fn certs(&self) -> &[LoadedCert] {
        &self.certs
    }

    /// The certificate for `server_name` (`ssl_sock_switchctx_cbk()`): one indexed under
    /// the exact name (lowercased), else under `*.` + the name without its first label,
    /// preferring among several one whose key `usable` accepts (the client's signature
    /// algorithms); no SNI or no match: the first certificate loaded (none with
    /// `strict-sni`).
    pub fn select(
        &self,
        server_name: Option<&str>,
        usable: impl Fn(&CertifiedKey) -> bool,
    ) -> Option<&LoadedCert> {
        if let Some(name) = server_name {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let wildcard = name.find('.').map(|dot| format!("*{}", &name[dot..]));
            for wanted in std::iter::once(Some(name.as_str())).chain([wildcard.as_deref()]) {
                let Some(wanted) = wanted else { continue };
                let mut matching = self
                    .certs
                    .iter()
                    .filter(|c| c.names.iter().any(|n| n == wanted));
                if let Some(first) = matching.clone().next() {
                    return Some(matching.find(|c| usable(&c.key)).unwrap_or(first));
                }
            }
        }
        if self.strict_sni {
            return None;
        }
        self.certs.first()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let schemes = hello.signature_schemes();
        self.select(hello.server_name(), |k| {
            k.key.choose_scheme(schemes).is_some()
        })
        .map(|c| Arc::clone(&c.key))
    }
}

/// The bind's address as its messages name it (HAProxy prints the text of the bind
/// line; ha-compat's model keeps the parsed address).
pub fn bind_address_text(address: &BindAddress) -> String {
    match address {
        BindAddress::Inet { host, ports } => {
            let host = match host {
                None => String::new(),
                Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
                Some(ip) => ip.to_string(),
            };
            if ports.first == ports.last {
                format!("{host}:{}", ports.first)
            } else {
                format!("{host}:{}-{}", ports.first, ports.last)
            }
        }
        BindAddress::Fd(fd) => format!("fd@{fd}"),
        other => format!("{other:?}"),
    }
}

/// Why a TLS handshake did not complete (`conn_err_code_str()`), as the embryonic
/// session's log line says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// Closed before sending anything (`CO_ER_SSL_EMPTY`).
    Empty,
    /// A receive error before anything arrived (`CO_ER_SSL_ABORT`).
    Abort,
    /// `timeout client` expired (`CO_ER_SSL_TIMEOUT`).
    Timeout,
    /// The TLS exchange failed (`CO_ER_SSL_HANDSHAKE`).
    Failed,
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HandshakeError::Empty => "Connection closed during SSL handshake",
            HandshakeError::Abort => "Connection error during SSL handshake",
            HandshakeError::Timeout => "Timeout during SSL handshake",
            HandshakeError::Failed => "SSL handshake failure",
        })
    }
}

impl HandshakeError {
    /// `option dontlognull` drops these (`session_kill_embryonic()`: no error code yet,
    /// or SSL_EMPTY / SSL_ABORT; a timeout is tested before it is set).
    pub fn is_null(self) -> bool {
        matches!(
            self,
            HandshakeError::Empty | HandshakeError::Abort | HandshakeError::Timeout
        )
    }
}

/// One `bind ... ssl` line ready to terminate TLS: its rustls configuration.
#[derive(Debug, Clone)]
pub struct TlsTerminator {
    config: Arc<ServerConfig>,
}

/// The bind options that matter to TLS, other than those the model names.
fn bind_words(bind: &Bind) -> impl Iterator<Item = (&str, Option<&str>)> {
    bind.options.other.iter().filter_map(|w| {
        let first = w.first()?;
        Some((first.as_str(), w.get(1).map(String::as_str)))
    })
}

impl TlsTerminator {
    /// Loads the bind's certificates and builds its configuration; `Ok` carries the
    /// warnings (HAProxy's, and what ha-compat cannot map). `Err`: the bind cannot run,
    /// with HAProxy's message. `http`: the frontend is in `mode http`, where ha-compat
    /// speaks HTTP/1.x only, so `h2` is not offered through ALPN (clients fall back to
    /// `http/1.1`; in `mode tcp` the list is offered as written).
    pub fn from_bind(
        bind: &Bind,
        proxy: &str,
        global: &Global,
        http: bool,
    ) -> Result<(TlsTerminator, Vec<String>), ProxyError> {
        let name = BindName {
            proxy: proxy.to_string(),
            address: bind_address_text(&bind.address),
            file: bind.at.file.clone(),
            line: bind.at.line,
        };
        let o = &bind.options;
        let parsing = |msg: &dyn std::fmt::Display| {
            ProxyError::Tls(format!(
                "parsing [{}:{}] : 'bind {}' in section 'frontend' : {msg}",
                name.file, name.line, name.address
            ))
        };
        let mut global_filter = VersionFilter::default();
        let mut tickets = true;
        let mut server_order = true;
        for option in &global.ssl_default_bind_options {
            let mut words = option.split_whitespace();
            let word = words.next().unwrap_or("");
            if !global_filter.apply(word, words.next()) {
                match word {
                    "no-tls-tickets" => tickets = false,
                    "prefer-client-ciphers" => server_order = false,
                    _ => {}
                }
            }
        }
        let mut bind_filter = VersionFilter {
            min: o.ssl_min_ver.as_deref().and_then(TlsVersion::from_name),
            max: o.ssl_max_ver.as_deref().and_then(TlsVersion::from_name),
            disabled: Vec::new(),
        };
        let mut strict_sni = false;
        let mut warnings = Vec::new();
        for (word, value) in bind_words(bind) {
            if bind_filter.apply(word, value) {
                continue;
            }
            match word {
                "no-tls-tickets" => tickets = false,
                "prefer-client-ciphers" => server_order = false,
                "strict-sni" => strict_sni = true,
                "curves" | "ecdhe" | "npn" | "allow-0rtt" | "no-ca-names" | "ca-ignore-err"
                | "crt-ignore-err" | "crl-file" | "ca-verify-file" | "ssl-dh-param-file" => {
                    warnings.push(format!(
                        "Proxy '{proxy}': '{word}' is ignored {} (not supported by ha-compat's \
                         TLS).",
                        name.suffix()
                    ))
                }
                _ => {}
            }
        }
        if !o.crt_list.is_empty() {
            return Err(ProxyError::Tls(format!(
                "{}:{}: 'crt-list' is not supported by ha-compat's proxy engine yet",
                name.file, name.line
            )));
        }
        if o.verify.as_deref().is_some_and(|v| v != "none") {
            return Err(ProxyError::Tls(format!(
                "{}:{}: 'verify {}' (client certificates) is not supported by ha-compat's \
                 proxy engine yet",
                name.file,
                name.line,
                o.verify.as_deref().unwrap_or("")
            )));
        }
        let (versions, version_warnings) =
            plan_versions(&global_filter, &bind_filter, &name).map_err(ProxyError::Tls)?;
        warnings.extend(version_warnings);
        let (suites, cipher_warnings) = plan_ciphers(
            o.ciphers
                .as_deref()
                .or(global.ssl_default_bind_ciphers.as_deref()),
            o.ciphersuites
                .as_deref()
                .or(global.ssl_default_bind_ciphersuites.as_deref()),
            &name,
        );
        warnings.extend(cipher_warnings);
        let base = rustls::crypto::ring::default_provider();
        let cipher_suites: Vec<SupportedCipherSuite> = suites
            .iter()
            .filter_map(|s| base.cipher_suites.iter().find(|c| c.suite() == *s).copied())
            .collect();
        let provider = Arc::new(CryptoProvider {
            cipher_suites,
            ..base
        });
        let mut certs = Vec::new();
        for crt in &o.crt {
            certs.extend(load_crt(crt, &provider).map_err(|e| parsing(&e))?);
        }
        if certs.is_empty() {
            return Err(ProxyError::Tls(format!(
                "Proxy '{proxy}': no SSL certificate specified {} (use 'crt').",
                name.suffix()
            )));
        }
        let rustls_versions: Vec<&'static SupportedProtocolVersion> = versions
            .iter()
            .map(|v| match v {
                TlsVersion::Tls13 => &rustls::version::TLS13,
                _ => &rustls::version::TLS12,
            })
            .collect();
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&rustls_versions)
            .map_err(|e| {
                ProxyError::Tls(format!(
                    "Proxy '{proxy}': no cipher left for the SSL/TLS versions {}: {e}.",
                    name.suffix()
                ))
            })?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(CertStore::new(certs, strict_sni)));
        // OpenSSL's server preference: HAProxy sets SSL_OP_CIPHER_SERVER_PREFERENCE
        // unless `prefer-client-ciphers`.
        config.ignore_client_order = server_order;
        // `no-tls-tickets` leaves rustls' default: no stateless tickets, TLS 1.3 tickets
        // backed by the session cache (as OpenSSL's SSL_OP_NO_TICKET: the reference
        // still sends two TLS 1.3 tickets).
        if tickets {
            config.ticketer = rustls::crypto::ring::Ticketer::new()
                .map_err(|e| ProxyError::Tls(format!("TLS session tickets: {e}")))?;
        }
        if let Some(alpn) = &o.alpn {
            let offered = alpn.split(',').filter(|p| !p.is_empty());
            if http && offered.clone().any(|p| p == "h2") {
                warnings.push(format!(
                    "Proxy '{proxy}': 'alpn h2' is not offered {} (ha-compat speaks HTTP/1.x \
                     only in 'mode http'; clients fall back to http/1.1).",
                    name.suffix()
                ));
            }
            config.alpn_protocols = offered
                .filter(|p| !(http && *p == "h2"))
                .map(|p| p.as_bytes().to_vec())
                .collect();
        }
        Ok((
            TlsTerminator {
                config: Arc::new(config),
            },
            warnings,
        ))
    }

    /// The handshake on an accepted connection, within `timeout` (`timeout client`, the
    /// embryonic session's timer).
    pub async fn handshake(
        &self,
        stream: TcpStream,
        timeout: Option<Duration>,
    ) -> Result<ClientStream, HandshakeError> {
        let run = async {
            // Whether anything arrived tells "closed/error during handshake" (OpenSSL's
            // state still TLS_ST_BEFORE) from a failed exchange.
            let mut probe = [0u8; 1];
            match stream.peek(&mut probe).await {
                Ok(0) => return Err(HandshakeError::Empty),
                Ok(_) => {}
                Err(_) => return Err(HandshakeError::Abort),
            }
            tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
                .accept(stream)
                .await
                .map(|s| ClientStream::Tls(Box::new(s)))
                .map_err(|_| HandshakeError::Failed)
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, run)
                .await
                .map_err(|_| HandshakeError::Timeout)?,
            None => run.await,
        }
    }
}

#[cfg(test)]
mod tests;
