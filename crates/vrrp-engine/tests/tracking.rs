//! The tracking runner and the notifier against real processes, files, a FIFO and an SMTP
//! sink. Expected lines and arguments are keepalived 2.2.7's (vrrp_scheduler.c,
//! vrrp_track.c, track_file.c, vrrp_notify.c, smtp.c), not this crate's output.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use keepalived_conf::host::FakeHost;
use keepalived_conf::{KeepalivedConfig, ReadOptions};
use vrrp_engine::notify::{Notifier, NotifyState};
use vrrp_engine::platform::Input;
use vrrp_engine::track::{TrackerKind, TrackerState, TrackerTable};
use vrrp_engine::tracker;

fn parse(text: &str) -> KeepalivedConfig {
    keepalived_conf::parse_str(
        Path::new("test.conf"),
        text,
        &ReadOptions::default(),
        &FakeHost::permissive(),
    )
    .config
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("hac-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("mkdir");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        TempDir(p)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
    fn script(&self, name: &str, body: &str) -> String {
        let p = self.path(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Receives until `pred` matches one input (returned with everything before it).
fn until(rx: &Receiver<Input>, within: Duration, pred: impl Fn(&Input) -> bool) -> Vec<Input> {
    let end = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(i) => {
                let hit = pred(&i);
                seen.push(i);
                if hit {
                    return seen;
                }
            }
            Err(_) => panic!("timed out; seen {seen:#?}"),
        }
    }
}

fn drain(rx: &Receiver<Input>, wait: Duration) -> Vec<Input> {
    let end = Instant::now() + wait;
    let mut seen = Vec::new();
    while let Ok(i) = rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
        seen.push(i);
    }
    seen
}

fn logs(inputs: &[Input]) -> Vec<String> {
    inputs
        .iter()
        .filter_map(|i| match i {
            Input::Log(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

/// keepalived logs this once when it looks for its default script user and the system has
/// none (`set_uid_gid()` from `get_default_script_user()`); root is used then.
const NO_DEFAULT_USER: &str = "Script user 'keepalived_script' does not exist";

fn has_keepalived_script_user() -> bool {
    nix::unistd::User::from_name("keepalived_script")
        .ok()
        .flatten()
        .is_some()
}

/// The log lines without the default-user line, after checking it is there when it must be.
fn script_logs(inputs: &[Input]) -> Vec<String> {
    let l = logs(inputs);
    if !has_keepalived_script_user() {
        assert_eq!(
            l.first().map(String::as_str),
            Some(NO_DEFAULT_USER),
            "{l:#?}"
        );
    }
    l.into_iter().filter(|x| x != NO_DEFAULT_USER).collect()
}

#[test]
fn true_false_and_timed_out_scripts() {
    let conf = parse(
        r#"
vrrp_script chk_ok {
    script "/bin/true"
    interval 0.2
}
vrrp_script chk_bad {
    script "/bin/false"
    interval 0.2
    rise 2
    fall 2
}
vrrp_script chk_slow {
    script "/bin/sleep 5"
    interval 3
    timeout 0.5
}
"#,
    );
    let table = TrackerTable::from_config(&conf);
    let id = |n: &str| table.id(&TrackerKind::Script(n.into())).expect("tracked");
    let (tx, rx) = channel();
    let started = Instant::now();
    let runner = tracker::spawn(&conf, &table, tx).expect("spawn");
    let seen = until(&rx, Duration::from_secs(5), |i| {
        *i == Input::Tracker(id("chk_slow"), TrackerState::Failed)
    });
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(450),
        "timed out too early: {elapsed:?}"
    );
    let mut seen = seen;
    seen.extend(drain(&rx, Duration::from_millis(500)));
    drop(runner);
    let l = script_logs(&seen);
    for line in [
        "VRRP_Script(chk_ok) succeeded",
        "Script `chk_bad` now returning 1",
        "VRRP_Script(chk_bad) failed (exited with status 1)",
        "VRRP_Script(chk_slow) timed_out",
    ] {
        assert_eq!(
            l.iter().filter(|x| *x == line).count(),
            1,
            "{line} in {l:#?}"
        );
    }
    let states = |n: &str| -> Vec<TrackerState> {
        seen.iter()
            .filter_map(|i| match i {
                Input::Tracker(t, s) if *t == id(n) => Some(*s),
                _ => None,
            })
            .collect()
    };
    // The first determination only: no flapping.
    assert_eq!(states("chk_ok"), vec![TrackerState::Ok]);
    assert_eq!(states("chk_bad"), vec![TrackerState::Failed]);
    assert_eq!(states("chk_slow"), vec![TrackerState::Failed]);
    // The slow script's `sleep` was killed with its process group: nothing is left.
    let ps = Command::new("pgrep")
        .args(["-f", "^/usr/bin/sleep 5$|^/bin/sleep 5$"])
        .output();
    if let Ok(out) = ps {
        let mine: Vec<_> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| s.split_whitespace().nth(3) == Some(&std::process::id().to_string()))
                    .unwrap_or(false)
            })
            .map(str::to_string)
            .collect();
        assert!(mine.is_empty(), "left-over children {mine:?}");
    }
}

#[test]
fn script_following_a_file_obeys_rise_and_fall() {
    let dir = TempDir::new("flip");
    let flag = dir.path("flag");
    let runs = dir.path("runs");
    let script = dir.script(
        "flip.sh",
        &format!(
            "if [ -e {flag} ]; then echo ok >> {runs}; exit 0; else echo fail >> {runs}; exit 1; fi"
        ),
    );
    let conf = parse(&format!(
        "vrrp_script flip {{\n script \"{script}\"\n interval 0.3\n rise 2\n fall 2\n}}\n"
    ));
    let table = TrackerTable::from_config(&conf);
    let id = table
        .id(&TrackerKind::Script("flip".into()))
        .expect("tracked");
    let (tx, rx) = channel();
    let _runner = tracker::spawn(&conf, &table, tx).expect("spawn");

    let seen = until(&rx, Duration::from_secs(3), |i| {
        matches!(i, Input::Tracker(..))
    });
    assert_eq!(seen.last(), Some(&Input::Tracker(id, TrackerState::Failed)));
    assert_eq!(
        script_logs(&seen),
        vec![
            "Script `flip` now returning 1".to_string(),
            "VRRP_Script(flip) failed (exited with status 1)".to_string()
        ]
    );

    fs::write(&flag, "").expect("flag");
    let seen = until(&rx, Duration::from_secs(3), |i| {
        matches!(i, Input::Tracker(..))
    });
    assert_eq!(seen.last(), Some(&Input::Tracker(id, TrackerState::Ok)));
    assert_eq!(
        logs(&seen),
        vec![
            "Script `flip` now returning 0".to_string(),
            "VRRP_Script(flip) succeeded".to_string()
        ]
    );
    let r = fs::read_to_string(&runs).expect("runs");
    let trailing_ok = r.lines().rev().take_while(|l| *l == "ok").count();
    assert_eq!(trailing_ok, 2, "rise 2: two successes, runs: {r}");

    fs::remove_file(&flag).expect("unflag");
    let seen = until(&rx, Duration::from_secs(3), |i| {
        matches!(i, Input::Tracker(..))
    });
    assert_eq!(seen.last(), Some(&Input::Tracker(id, TrackerState::Failed)));
    let r = fs::read_to_string(&runs).expect("runs");
    let trailing_fail = r.lines().rev().take_while(|l| *l == "fail").count();
    assert_eq!(trailing_fail, 2, "fall 2: two failures, runs: {r}");
}

#[test]
fn tracked_process_gains_and_loses_quorum() {
    let dir = TempDir::new("proc");
    let name = format!("hacsl{}", std::process::id() % 100_000);
    let bin = dir.path(&name);
    fs::copy("/bin/sleep", &bin).expect("copy sleep");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod");
    let conf = parse(&format!(
        "vrrp_track_process proc {{\n process {name}\n quorum 2\n}}\n"
    ));
    let table = TrackerTable::from_config(&conf);
    let id = table
        .id(&TrackerKind::Process("proc".into()))
        .expect("tracked");
    let (tx, rx) = channel();
    let runner = tracker::spawn(&conf, &table, tx).expect("spawn");
    // Read before the instances start, as keepalived does (`Runtime::preset_trackers`).
    assert_eq!(runner.initial_states(), [(id, TrackerState::Failed)]);

    // First determination: silent (keepalived's start-up), failed with no process.
    let seen = until(&rx, Duration::from_secs(2), |i| {
        matches!(i, Input::Tracker(..))
    });
    assert_eq!(seen, vec![Input::Tracker(id, TrackerState::Failed)]);

    let spawn = || -> Child { Command::new(&bin).arg("30").spawn().expect("spawn copy") };
    let mut a = spawn();
    assert!(drain(&rx, Duration::from_millis(300)).is_empty());
    let mut b = spawn();
    let seen = until(&rx, Duration::from_secs(2), |i| {
        matches!(i, Input::Tracker(..))
    });
    assert_eq!(
        seen,
        vec![
            Input::Log("Quorum gained for tracked process proc".into()),
            Input::Tracker(id, TrackerState::Ok)
        ]
    );
    let _ = b.kill();
    let _ = b.wait();
    let seen = until(&rx, Duration::from_secs(2), |i| {
        matches!(i, Input::Tracker(..))
    });
    assert_eq!(
        seen,
        vec![
            Input::Log("Quorum lost for tracked process proc".into()),
            Input::Tracker(id, TrackerState::Failed)
        ]
    );
    let _ = a.kill();
    let _ = a.wait();
}

#[test]
fn track_file_values() {
    let dir = TempDir::new("file");
    let f = dir.path("weight");
    let conf = parse(&format!(
        "track_file tf {{\n file {f}\n weight 1\n init_file 5\n}}\n"
    ));
    let table = TrackerTable::from_config(&conf);
    let id = table.id(&TrackerKind::File("tf".into())).expect("tracked");
    let (tx, rx) = channel();
    let _runner = tracker::spawn(&conf, &table, tx).expect("spawn");

    let next = |rx: &Receiver<Input>| {
        until(rx, Duration::from_secs(2), |i| {
            matches!(i, Input::Tracker(..))
        })
    };
    assert_eq!(next(&rx), vec![Input::Tracker(id, TrackerState::Value(5))]);
    assert_eq!(fs::read_to_string(&f).expect("init_file"), "5\n");

    fs::write(&f, "7\n").expect("write");
    assert_eq!(next(&rx), vec![Input::Tracker(id, TrackerState::Value(7))]);
    fs::write(&f, " -0x10 trailing").expect("write");
    assert_eq!(
        next(&rx),
        vec![Input::Tracker(id, TrackerState::Value(-16))]
    );
    fs::write(&f, "99999999999\n").expect("write");
    let seen = until(&rx, Duration::from_secs(2), |i| matches!(i, Input::Log(_)));
    assert_eq!(
        seen,
        vec![Input::Log(format!(
            "Invalid number 99999999999 read from {f} - ignoring"
        ))]
    );
    fs::write(&f, "garbage").expect("write");
    assert_eq!(next(&rx), vec![Input::Tracker(id, TrackerState::Value(0))]);
    fs::write(&f, "3").expect("write");
    assert_eq!(next(&rx), vec![Input::Tracker(id, TrackerState::Value(3))]);
    fs::remove_file(&f).expect("rm");
    assert_eq!(next(&rx), vec![Input::Tracker(id, TrackerState::Value(0))]);
}

fn wait_file(p: &str) -> String {
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        if let Ok(s) = fs::read_to_string(p) {
            if s.ends_with('\n') {
                return s;
            }
        }
        assert!(Instant::now() < end, "{p} never written");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn notify_scripts_and_fifo() {
    let dir = TempDir::new("notify");
    let out = dir.0.to_string_lossy().into_owned();
    // Writes its argv (after $0) to OUT/<first arg>.out, '|'-separated.
    let script = dir.script(
        "notify.sh",
        &format!("f={out}/$1.$3$4.out; printf '%s|' \"$0\" \"$@\" > $f.tmp; echo >> $f.tmp; mv $f.tmp $f"),
    );
    let conf = parse(&format!(
        r#"
vrrp_sync_group G1 {{
    group {{
        VI_1
    }}
    notify "{script} ggeneric"
    notify_backup "{script} gbackup"
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {{
        192.0.2.1
    }}
    notify_master "{script} master"
    notify "{script} generic"
    notify_master_rx_lower_pri "{script} rxlower"
}}
"#
    ));
    let fifo = dir.path("fifo");
    nix::unistd::mkfifo(
        fifo.as_str(),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .expect("mkfifo");
    let mut reader = BufReader::new(
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(&fifo)
            .expect("open fifo"),
    );
    let (tx, rx) = channel();
    let mut n = Notifier::new(&conf, tx);
    assert!(script_logs(&drain(&rx, Duration::from_millis(10))).is_empty());
    n.add_fifo(&fifo);

    n.instance_state("VI_1", NotifyState::Master, 100);
    // notify_master gets its own words only; notify gets INSTANCE NAME STATE PRIORITY.
    assert_eq!(
        wait_file(&format!("{out}/master..out")),
        format!("{script}|master|\n")
    );
    assert_eq!(
        wait_file(&format!("{out}/generic.VI_1MASTER.out")),
        format!("{script}|generic|INSTANCE|VI_1|MASTER|100|\n")
    );
    // DELETED without notify_deleted is reported as FAULT.
    n.instance_state("VI_1", NotifyState::Deleted, 90);
    assert_eq!(
        wait_file(&format!("{out}/generic.VI_1FAULT.out")),
        format!("{script}|generic|INSTANCE|VI_1|FAULT|90|\n")
    );
    n.group_state("G1", NotifyState::Backup);
    assert_eq!(
        wait_file(&format!("{out}/gbackup..out")),
        format!("{script}|gbackup|\n")
    );
    assert_eq!(
        wait_file(&format!("{out}/ggeneric.G1BACKUP.out")),
        format!("{script}|ggeneric|GROUP|G1|BACKUP|0|\n")
    );
    n.master_rx_lower_pri("VI_1", 100);
    assert_eq!(
        wait_file(&format!("{out}/rxlower..out")),
        format!("{script}|rxlower|\n")
    );
    n.priority_change("VI_1", true, 110);
    n.priority_change("VI_1", false, 90);

    let mut lines = Vec::new();
    let end = Instant::now() + Duration::from_secs(2);
    while lines.len() < 6 && Instant::now() < end {
        let mut l = String::new();
        match reader.read_line(&mut l) {
            Ok(n) if n > 0 => lines.push(l),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    assert_eq!(
        lines,
        vec![
            "INSTANCE \"VI_1\" MASTER 100\n",
            "INSTANCE \"VI_1\" FAULT 90\n",
            "GROUP \"G1\" BACKUP 0\n",
            "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 100\n",
            "INSTANCE \"VI_1\" MASTER_PRIORITY 110\n",
            "INSTANCE \"VI_1\" BACKUP_PRIORITY 90\n",
        ]
    );
    assert!(logs(&drain(&rx, Duration::from_millis(50))).is_empty());
    drop(n);
    // The FIFO was the test's: not removed.
    assert!(Path::new(&fifo).exists());
}

/// A minimal SMTP server: answers every command, records what it received.
fn smtp_sink(listener: TcpListener, mails: usize) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut sessions = Vec::new();
        for _ in 0..mails {
            let (s, _) = listener.accept().expect("accept");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let mut w = s.try_clone().expect("clone");
            let mut r = BufReader::new(s);
            let mut got = String::new();
            w.write_all(b"220-sink.example ESMTP\r\n220 ready\r\n")
                .expect("greet");
            let mut in_data = false;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                got.push_str(&line);
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        w.write_all(b"250 queued\r\n").expect("reply");
                    }
                    continue;
                }
                let reply: &[u8] = if line.starts_with("DATA") {
                    in_data = true;
                    b"354 go ahead\r\n"
                } else if line.starts_with("QUIT") {
                    w.write_all(b"221 bye\r\n").expect("reply");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                w.write_all(reply).expect("reply");
            }
            let mut rest = Vec::new();
            let _ = r.read_to_end(&mut rest);
            sessions.push(got);
        }
        sessions
    })
}

#[test]
fn smtp_alert_as_keepalived_sends_it() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let sink = smtp_sink(listener, 2);
    let conf = parse(&format!(
        r#"
global_defs {{
    notification_email {{
        ops@example.com
        oncall@example.com
    }}
    notification_email_from keepalived@example.com
    smtp_server 127.0.0.1 {port}
    smtp_helo_name lb1.example.com
    smtp_connect_timeout 5
    router_id LB1
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 100
    smtp_alert
    virtual_ipaddress {{
        192.0.2.1
    }}
}}
"#
    ));
    let (tx, rx) = channel();
    let mut n = Notifier::new(&conf, tx);
    n.instance_state("VI_1", NotifyState::Master, 100);
    // Same state again: keepalived's last_email_state sends no second mail.
    n.instance_state("VI_1", NotifyState::Master, 100);
    let seen = until(&rx, Duration::from_secs(5), |i| {
        *i == Input::Log("SMTP alert successfully sent.".into())
    });
    assert_eq!(
        logs(&seen),
        vec!["SMTP alert successfully sent.".to_string()]
    );
    n.instance_state("VI_1", NotifyState::Backup, 100);
    until(&rx, Duration::from_secs(5), |i| {
        *i == Input::Log("SMTP alert successfully sent.".into())
    });
    let sessions = sink.join().expect("sink");
    let expect = |subject: &str, body: &str, got: &str| {
        let date_line = got
            .lines()
            .find(|l| l.starts_with("Date: "))
            .expect("Date header")
            .to_string();
        // "%a, %d %b %Y %H:%M:%S %z"
        assert_eq!(
            date_line.len(),
            "Date: Mon, 01 Mar 2021 09:44:08 +0000".len(),
            "{date_line}"
        );
        let want = format!(
            "HELO lb1.example.com\r\n\
             MAIL FROM:<keepalived@example.com>\r\n\
             RCPT TO:<ops@example.com>\r\n\
             RCPT TO:<oncall@example.com>\r\n\
             DATA\r\n\
             {date_line}\r\n\
             From: keepalived@example.com\r\n\
             Subject: [LB1] VRRP Instance VI_1 - {subject}\r\n\
             X-Mailer: Keepalived\r\n\
             To: ops@example.com, oncall@example.com\r\n\
             \r\n\
             {body}\r\n\
             \r\n\
             .\r\n\
             QUIT\r\n"
        );
        assert_eq!(got, want);
    };
    expect(
        "Entering MASTER state",
        "=> VRRP Instance is now owning VRRP VIPs <=",
        &sessions[0],
    );
    expect(
        "Entering BACKUP state",
        "=> VRRP Instance is no longer owning VRRP VIPs <=",
        &sessions[1],
    );
}
