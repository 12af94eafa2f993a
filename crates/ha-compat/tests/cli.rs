//! The two personalities, called as the binary would be.

use std::ffi::OsString;

fn run(args: &[&str]) -> (i32, String, String) {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = ha_compat::run(args, &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn fixture(path: &str) -> String {
    format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_explains_with_the_source_line_and_a_caret() {
    let file = fixture("keepalived/invalid/keyword-wrong-case.conf");
    let (code, _, err) = run(&["ha-compat", "check", "--no-host-checks", "-f", &file]);
    assert_eq!(code, 0, "warnings only: {err}");
    assert!(err.contains("warning: Unknown keyword 'Priority'"), "{err}");
    assert!(err.contains("keyword-wrong-case.conf:7:"), "{err}");
    assert!(err.contains("^^^^^^^^"), "{err}");
    assert!(err.contains("did you mean 'priority'?"), "{err}");
}

#[test]
fn check_fails_on_errors() {
    let file = fixture("keepalived/invalid/interface-missing.conf");
    let (code, _, err) = run(&["ha-compat", "check", "--no-host-checks", "-f", &file]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error: (VI_1) Unknown interface!"), "{err}");
}

#[test]
fn dump_shows_what_was_understood() {
    let file = fixture("seeds/003/keepalived-node1.conf");
    let (code, out, _) = run(&["ha-compat", "check", "--no-host-checks", "-d", "-f", &file]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON dump");
    let inst = &json["instances"][0];
    assert_eq!(inst["name"], "VI_1");
    assert_eq!(inst["authentication"]["Ah"], "cuongqua");
    assert_eq!(inst["mcast_src_ip"], "10.12.166.81");
}

#[test]
fn keepalived_personality_prints_keepalived_lines_and_status() {
    let file = fixture("keepalived/invalid/priority-0.conf");
    let (code, _, err) = run(&["/usr/sbin/keepalived", "-t", "-f", &file]);
    // The interface check depends on the machine, the priority messages do not.
    assert!(
        err.contains(&format!(
            "({file}: Line 5) number '0' outside range [1, 255]"
        )),
        "{err}"
    );
    assert!(
        err.contains("(VI_1) Priority not valid! must be between 1 & 255. Using default 100"),
        "{err}"
    );
    assert_eq!(code, 5);
    let (code, _, err) = run(&["keepalived", "-t", "-f", "/nonexistent/keepalived.conf"]);
    assert_eq!(
        (code, err.as_str()),
        (0, "Config files missing '/nonexistent/keepalived.conf'.\n")
    );
}

#[test]
fn check_tells_haproxy_cfg_from_keepalived_conf_by_content() {
    // A haproxy.cfg under a name that says nothing: recognised by its first keyword.
    let dir = std::env::temp_dir().join(format!("ha-compat-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let renamed = dir.join("lb.conf");
    std::fs::copy(fixture("seeds/001/haproxy.cfg"), &renamed).expect("copy");
    let keepalived = fixture("seeds/001/keepalived-hap1.conf");
    let (code, _, err) = run(&[
        "ha-compat",
        "check",
        "--no-host-checks",
        "-f",
        &keepalived,
        "-f",
        renamed.to_str().expect("utf8 path"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 VRRP instance(s)"), "{err}");
    assert!(
        err.contains("lb.conf: 1 frontend(s), 1 backend(s), 2 server(s), 0 error(s)"),
        "{err}"
    );
}

#[test]
fn haproxy_personality_checks_like_haproxy_c() {
    let file = fixture("haproxy/invalid/unknown_kw_frontend_hint.cfg");
    let (code, out, err) = run(&["haproxy", "-c", "-f", &file]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    // The wording HAProxy 2.6.12 printed for this fixture (recorded in .expected).
    let expected =
        std::fs::read_to_string(fixture("haproxy/invalid/unknown_kw_frontend_hint.expected"))
            .expect("recorded output");
    let alert = expected
        .lines()
        .find(|l| l.contains("unknown keyword"))
        .expect("recorded alert")
        .replace("{FILE}", &file);
    let alert = alert.split(" : config : ").nth(1).expect("alert text");
    assert!(err.contains(alert), "expected {alert:?} in:\n{err}");
    assert!(
        err.ends_with("Fatal errors found in configuration.\n"),
        "{err}"
    );

    let ok = fixture("seeds/001/haproxy.cfg");
    let (code, out, _) = run(&["haproxy", "-c", "-f", &ok]);
    assert_eq!((code, out.as_str()), (0, "Configuration file is valid\n"));
}

/// What the engine refuses to run is named with its place, like the configuration's own
/// errors: `FILE:LINE: message`.
#[test]
fn refused_keywords_name_file_and_line() {
    let dir = std::env::temp_dir().join(format!("hac-refuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let cases = [
        (
            "routes.conf",
            "virtual_routes {\n    10.9.0.0/24 via 127.0.0.2\n  }",
            "virtual_routes",
        ),
        ("vmac.conf", "use_vmac", "use_vmac"),
    ];
    for (name, keyword_lines, keyword) in cases {
        let path = dir.join(name);
        // The refused keyword is on line 9.
        let text = format!(
            "vrrp_instance VI_1 {{\n  interface lo\n  virtual_router_id 51\n  priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    127.0.0.51/32\n  }}\n  {keyword_lines}\n}}\n"
        );
        std::fs::write(&path, text).expect("write conf");
        let path = path.to_string_lossy().into_owned();
        let (code, _, err) = run(&["keepalived", "-n", "-f", &path]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains(&format!(
                "{path}:9: (VI_1) {keyword}: not implemented yet; ha-compat refuses to run rather than ignore it"
            )),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The NOTICE line "path to executable is …" names the path the program was executed by
/// (the packaged `/usr/sbin/haproxy` symlink, not the `ha-compat` file it points to), as
/// the real haproxy prints it: both are run through a symlink and must name the symlink.
#[test]
fn haproxy_names_the_path_it_was_executed_by() {
    let dir = std::env::temp_dir().join(format!("hac-execfn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.cfg");
    std::fs::write(&bad, "global\n  no-such-keyword\n").expect("write config");
    let mut subjects = vec![("ours", env!("CARGO_BIN_EXE_ha-compat").to_owned())];
    if std::path::Path::new("/usr/sbin/haproxy").exists() {
        subjects.push(("reference", "/usr/sbin/haproxy".to_owned()));
    }
    for (who, target) in subjects {
        let link = dir.join(format!("{who}-link")).join("haproxy");
        std::fs::create_dir_all(link.parent().expect("has a parent")).expect("link dir");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let output = std::process::Command::new(&link)
            .args(["-c", "-f"])
            .arg(&bad)
            .output()
            .expect("run through the symlink");
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{who}: {err}");
        let expected = format!(") : path to executable is {}\n", link.display());
        assert!(err.contains(&expected), "{who}: {expected:?} not in {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_supervisor_refuses_an_unreadable_file_at_once() {
    // Not restarted forever by the supervisor: said once, exit 1.
    let (code, _, err) = run(&["ha-compat", "-f", "/nonexistent/keepalived.conf"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("ha-compat: cannot read /nonexistent/keepalived.conf:"),
        "{err}"
    );
}
