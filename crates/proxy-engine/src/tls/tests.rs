//! Versions and cipher mapping follow HAProxy 2.6.12's ssl_sock_initial_ctx() and
//! parse_tls_method_*(); certificates are made at test time with the `openssl` command
//! (skipped without it), and the `crt` messages are those haproxy 2.6.12 `-c` printed
//! for the same files (see crates/ha-compat/tests/tls_reference.rs, which compares them
//! live).

use super::*;
use proptest::prelude::*;
use std::process::Command;

fn name() -> BindName {
    BindName {
        proxy: "fe".into(),
        address: ":443".into(),
        file: "h.cfg".into(),
        line: 7,
    }
}

fn filter(words: &[&str]) -> VersionFilter {
    let mut f = VersionFilter::default();
    let mut i = 0;
    while i < words.len() {
        let value = words.get(i + 1).copied();
        assert!(f.apply(words[i], value), "{}", words[i]);
        i += if words[i].starts_with("ssl-m") { 2 } else { 1 };
    }
    f
}

use TlsVersion::{Tls12, Tls13};

#[test]
fn versions_default_to_tls12_and_up() {
    let (v, w) = plan_versions(&filter(&[]), &filter(&[]), &name()).unwrap();
    assert_eq!(v, [Tls12, Tls13]);
    assert!(w.is_empty());
}

#[test]
fn no_flags_and_force() {
    let (v, _) = plan_versions(&filter(&[]), &filter(&["no-tlsv13"]), &name()).unwrap();
    assert_eq!(v, [Tls12]);
    let (v, _) = plan_versions(&filter(&["no-tlsv12"]), &filter(&[]), &name()).unwrap();
    assert_eq!(v, [Tls13]);
    let (v, _) = plan_versions(&filter(&[]), &filter(&["force-tlsv13"]), &name()).unwrap();
    assert_eq!(v, [Tls13]);
    // The bind's min/max win over the global's.
    let (v, _) = plan_versions(
        &filter(&["ssl-min-ver", "TLSv1.3"]),
        &filter(&["ssl-max-ver", "TLSv1.2", "ssl-min-ver", "TLSv1.2"]),
        &name(),
    )
    .unwrap();
    assert_eq!(v, [Tls12]);
}

#[test]
fn no_flags_next_to_min_max_are_ignored_with_haproxys_warning() {
    let (v, w) = plan_versions(
        &filter(&["ssl-min-ver", "TLSv1.2"]),
        &filter(&["no-tlsv13"]),
        &name(),
    )
    .unwrap();
    assert_eq!(v, [Tls12, Tls13]);
    assert_eq!(
        w,
        [
            "Proxy 'fe': no-sslv3/no-tlsv1x are ignored for bind ':443' at [h.cfg:7]. Use only \
          'ssl-min-ver' and 'ssl-max-ver' to fix."
        ]
    );
}

#[test]
fn versions_below_tls12_are_not_offered_and_said_so() {
    let (v, w) =
        plan_versions(&filter(&["ssl-min-ver", "TLSv1.0"]), &filter(&[]), &name()).unwrap();
    assert_eq!(v, [Tls12, Tls13]);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("does not offer TLSv1.0, TLSv1.1"), "{w:?}");
    let e = plan_versions(&filter(&[]), &filter(&["force-tlsv11"]), &name()).unwrap_err();
    assert!(e.contains("no SSL/TLS version left"), "{e}");
    // ssl-max-ver below the default minimum: HAProxy's "Ambiguous configuration".
    let e = plan_versions(&filter(&[]), &filter(&["ssl-max-ver", "TLSv1.1"]), &name());
    assert!(e.is_err());
}

#[test]
fn all_versions_disabled_is_haproxys_alert() {
    let e = plan_versions(&filter(&["no-tlsv12", "no-tlsv13"]), &filter(&[]), &name()).unwrap_err();
    assert_eq!(
        e,
        "Proxy 'fe': all SSL/TLS versions are disabled for bind ':443' at [h.cfg:7]."
    );
}

#[test]
fn cipher_names_and_keywords_map_onto_rustls_suites() {
    let (s, w) = plan_ciphers(
        Some("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:!aNULL:!MD5"),
        None,
        &name(),
    );
    assert_eq!(
        s[3..],
        [
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        ]
    );
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("'DHE-RSA-AES128-GCM-SHA256' not offered"),
        "{w:?}"
    );
    let (s, w) = plan_ciphers(Some("HIGH:!aNULL:!kRSA"), None, &name());
    assert_eq!(s.len(), 3 + 6);
    assert!(w.is_empty(), "{w:?}");
    let (s, _) = plan_ciphers(Some("ECDHE+AESGCM:!aECDSA"), None, &name());
    assert_eq!(
        s[3..],
        [
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        ]
    );
    let (s, _) = plan_ciphers(None, None, &name());
    assert_eq!(s[0], CipherSuite::TLS13_AES_256_GCM_SHA384);
    assert_eq!(s[3], CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
    let (_, w) = plan_ciphers(Some("FANCY:@STRENGTH"), None, &name());
    assert!(w[0].contains("'FANCY:@STRENGTH' ignored"), "{w:?}");
}

#[test]
fn tls13_ciphersuites_map_by_name() {
    let (s, w) = plan_ciphers(
        Some("ECDHE-RSA-AES128-GCM-SHA256"),
        Some("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256"),
        &name(),
    );
    assert_eq!(
        s,
        [
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        ]
    );
    assert!(
        w[0].contains("'TLS_AES_128_CCM_SHA256' not offered"),
        "{w:?}"
    );
}

/// A temporary directory with a CA, an RSA cert for a.example.com (SAN a.example.com,
/// alt.example.net) and an EC cert for CN=*.wild.test (no SAN), as PEM files.
struct Certs {
    dir: PathBuf,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl {args:?}");
}

fn certs(tag: &str) -> Option<Certs> {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: no openssl command");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("tls-unit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = &dir;
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Test CA",
        ],
    );
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=DNS:a.example.com,DNS:alt.example.net\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "a.key",
            "-out",
            "a.csr",
            "-subj",
            "/CN=a.example.com",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "a.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "a.crt",
            "-days",
            "30",
            "-extfile",
            "san.ext",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "w.key",
            "-out",
            "w.csr",
            "-subj",
            "/CN=*.wild.test",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "w.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "w.crt",
            "-days",
            "30",
        ],
    );
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    let cat = |out: &str, parts: &[&str]| {
        let bytes: Vec<u8> = parts.iter().flat_map(|p| read(p)).collect();
        std::fs::write(d.join(out), bytes).unwrap();
    };
    cat("a.pem", &["a.crt", "ca.pem", "a.key"]);
    cat("w.pem", &["w.crt", "w.key"]);
    Some(Certs { dir })
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

#[test]
fn names_are_san_then_cn_lowercased() {
    let Some(c) = certs("names") else { return };
    let a = load_pem_file(&c.dir.join("a.pem"), &provider()).unwrap();
    assert_eq!(
        a.names,
        ["a.example.com", "alt.example.net", "a.example.com"]
    );
    assert_eq!(a.key.cert.len(), 2, "the chain follows the certificate");
    let w = load_pem_file(&c.dir.join("w.pem"), &provider()).unwrap();
    assert_eq!(w.names, ["*.wild.test"]);
}

#[test]
fn sni_picks_exact_then_wildcard_of_first_label_else_the_first_loaded() {
    let Some(c) = certs("sni") else { return };
    let p = provider();
    let store = CertStore::new(
        vec![
            load_pem_file(&c.dir.join("a.pem"), &p).unwrap(),
            load_pem_file(&c.dir.join("w.pem"), &p).unwrap(),
        ],
        false,
    );
    let pick = |sni: Option<&str>| {
        store
            .select(sni, |_| true)
            .map(|c| c.file.file_name().unwrap().to_string_lossy().into_owned())
    };
    assert_eq!(pick(Some("x.wild.test")).as_deref(), Some("w.pem"));
    assert_eq!(pick(Some("X.Wild.Test")).as_deref(), Some("w.pem"));
    assert_eq!(pick(Some("alt.example.net")).as_deref(), Some("a.pem"));
    // Only the first label: not the bare domain, not two labels deep.
    assert_eq!(pick(Some("wild.test")).as_deref(), Some("a.pem"));
    assert_eq!(pick(Some("a.b.wild.test")).as_deref(), Some("a.pem"));
    assert_eq!(pick(None).as_deref(), Some("a.pem"));
    let strict = CertStore::new(vec![load_pem_file(&c.dir.join("w.pem"), &p).unwrap()], true);
    assert!(strict.select(Some("nope.example"), |_| true).is_none());
}

#[test]
fn crt_errors_are_haproxys() {
    let Some(c) = certs("errors") else { return };
    let p = provider();
    let d = &c.dir;
    let at = |f: &str| d.join(f);
    std::fs::write(at("bad.pem"), "garbage\n").unwrap();
    std::fs::copy(at("a.crt"), at("nokey.pem")).unwrap();
    let mismatch: Vec<u8> = [
        std::fs::read(at("a.crt")).unwrap(),
        std::fs::read(at("w.key")).unwrap(),
    ]
    .concat();
    std::fs::write(at("mismatch.pem"), mismatch).unwrap();
    std::fs::copy(at("a.key"), at("keyonly.pem")).unwrap();
    let err = |f: &str| load_crt(&at(f), &p).unwrap_err().to_string();
    let dir = d.display();
    assert_eq!(
        err("bad.pem"),
        format!("unable to load certificate from file '{dir}/bad.pem'.")
    );
    assert_eq!(
        err("keyonly.pem"),
        format!("unable to load certificate from file '{dir}/keyonly.pem'.")
    );
    assert_eq!(
        err("nokey.pem"),
        format!("No Private Key found in '{dir}/nokey.pem.key'.")
    );
    assert_eq!(
        err("mismatch.pem"),
        format!("inconsistencies between private key and certificate loaded '{dir}/mismatch.pem'.")
    );
    assert_eq!(
        err("missing.pem"),
        format!("unable to stat SSL certificate from file '{dir}/missing.pem' : No such file or directory.")
    );
    // The key next to the certificate, as FILE.key.
    std::fs::copy(at("a.key"), at("nokey.pem.key")).unwrap();
    assert!(load_crt(&at("nokey.pem"), &p).is_ok());
}

#[test]
fn crt_dir_loads_in_byte_order_skipping_reserved_and_dot_files() {
    let Some(c) = certs("dir") else { return };
    let d = c.dir.join("certs");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(c.dir.join("w.crt"), d.join("20-w.pem")).unwrap();
    std::fs::copy(c.dir.join("w.key"), d.join("20-w.pem.key")).unwrap();
    std::fs::copy(c.dir.join("a.pem"), d.join("10-a.pem")).unwrap();
    for junk in [".hidden", "x.ocsp", "x.issuer", "x.sctl"] {
        std::fs::write(d.join(junk), "junk").unwrap();
    }
    let loaded = load_crt(&d, &provider()).unwrap();
    let files: Vec<_> = loaded
        .iter()
        .map(|c| c.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["10-a.pem", "20-w.pem"]);
    std::fs::write(d.join("30-bad.pem"), "junk").unwrap();
    assert_eq!(
        load_crt(&d, &provider()).unwrap_err(),
        CrtError::NoCertificate(d.join("30-bad.pem"))
    );
}

proptest! {
    #[test]
    fn garbage_certificates_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = subject_names(&bytes);
        let _ = parse_pem(&bytes, Path::new("x.pem"), &provider(), || Some(bytes.clone()));
    }

    #[test]
    fn mangled_pem_never_panics(
        cut in 0usize..2000,
        flips in proptest::collection::vec((0usize..2000, any::<u8>()), 0..8),
    ) {
        let mut pem = SAMPLE_PEM.as_bytes().to_vec();
        for (at, b) in flips {
            let i = at % pem.len();
            pem[i] = b;
        }
        pem.truncate(cut.min(pem.len()));
        let _ = parse_pem(&pem, Path::new("x.pem"), &provider(), || None);
        if let Ok(ders) = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>() {
            for der in ders {
                let _ = subject_names(der.as_ref());
            }
        }
    }
}

/// A self-signed EC certificate with its key (made once with `openssl req -x509 -newkey
/// ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=sample.test -addext
/// subjectAltName=DNS:sample.test`), the seed of the mangling property.
const SAMPLE_PEM: &str = include_str!("sample.pem");
