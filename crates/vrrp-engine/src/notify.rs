//! Notification on state changes, as keepalived 2.2.7's `vrrp_notify.c` does it: the
//! state's own `notify_*` script (run with its configured argv only), the generic `notify`
//! script (argv + `INSTANCE|GROUP NAME STATE PRIORITY`), a line on each notify FIFO
//! (`INSTANCE "NAME" STATE PRIORITY`, see [`crate::notify_fifo`]), and an SMTP alert
//! (`smtp.c`) when `smtp_alert` is on.
//!
//! Every method returns at once: scripts are started and reaped on a thread each (no
//! zombies), e-mails are sent from a thread each. Lines keepalived would log go to the
//! runtime's queue as [`Input::Log`].
//!
//! What the runtime decides, not this module: keepalived skips an instance's notifies when
//! its sync group already notified the same state (`send_instance_notifies()`), and calls
//! [`Notifier::instance_state`] with `Stop` for every instance then [`Notifier::group_state`]
//! for every group on shut-down (`notify_shutdown()`).
//!
//! Differences: the `Date:` header is in UTC (`+0000`) where keepalived uses local time;
//! the default router id, HELO name and sender domain come from the node name
//! (keepalived canonicalises it with `getaddrinfo(AI_CANONNAME)`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::Child;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keepalived_conf::model::{Command, KeepalivedConfig, Notify};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{getuid, Pid, User};

use crate::notify_fifo::NotifyFifos;
use crate::platform::Input;
use crate::script_exec::{PreparedScript, ScriptKind, ScriptSecurity};

/// A state as the notify scripts, FIFO and e-mails name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyState {
    /// `MASTER`.
    Master,
    /// `BACKUP`.
    Backup,
    /// `FAULT`.
    Fault,
    /// `STOP`.
    Stop,
    /// `DELETED` (instances only; sent as `FAULT` unless `notify_deleted` is configured).
    Deleted,
}

impl NotifyState {
    /// The word keepalived uses.
    pub fn word(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
            NotifyState::Deleted => "DELETED",
        }
    }
}

/// The prepared scripts of one `notify` block.
#[derive(Debug, Default)]
struct Scripts {
    any: Option<PreparedScript>,
    master: Option<PreparedScript>,
    backup: Option<PreparedScript>,
    fault: Option<PreparedScript>,
    stop: Option<PreparedScript>,
    deleted: Option<PreparedScript>,
    master_rx_lower_pri: Option<PreparedScript>,
    notify_deleted: bool,
}

impl Scripts {
    fn new(n: &Notify, sec: &mut ScriptSecurity, logs: &mut Vec<String>) -> Scripts {
        let mut prep = |c: &Option<Command>| {
            c.as_ref()
                .and_then(|c| sec.prepare(ScriptKind::Notify, &c.argv, c.user.as_ref(), logs))
        };
        Scripts {
            any: prep(&n.any),
            master: prep(&n.master),
            backup: prep(&n.backup),
            fault: prep(&n.fault),
            stop: prep(&n.stop),
            deleted: prep(&n.deleted),
            master_rx_lower_pri: prep(&n.master_rx_lower_pri),
            notify_deleted: n.deleted.is_some(),
        }
    }

    fn for_state(&self, s: NotifyState) -> Option<&PreparedScript> {
        match s {
            NotifyState::Master => self.master.as_ref(),
            NotifyState::Backup => self.backup.as_ref(),
            NotifyState::Fault => self.fault.as_ref(),
            NotifyState::Stop => self.stop.as_ref(),
            NotifyState::Deleted => self.deleted.as_ref(),
        }
    }
}

#[derive(Debug)]
struct Target {
    scripts: Scripts,
    smtp_alert: bool,
    last_email_state: Option<NotifyState>,
}

/// Where and how alerts are mailed.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtp_server` as written (host, port).
    pub server: (String, u16),
    /// `smtp_helo_name`, else the node name.
    pub helo: String,
    /// `notification_email_from`, else `USER@NODENAME`.
    pub from: String,
    /// `notification_email`.
    pub to: Vec<String>,
    /// `router_id`, else the node name.
    pub router_id: String,
    /// `smtp_connect_timeout`.
    pub timeout: Duration,
}

/// Runs the notifications of a configuration.
#[derive(Debug)]
pub struct Notifier {
    instances: HashMap<String, Target>,
    groups: HashMap<String, Target>,
    fifos: NotifyFifos,
    smtp: Option<SmtpSettings>,
    tx: Sender<Input>,
}

/// keepalived's local name: the node name (`uname -n`).
fn local_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "[unknown]".to_string())
}

/// What a configuration notifies, apart from the FIFOs.
type Targets = (
    HashMap<String, Target>,
    HashMap<String, Target>,
    Option<SmtpSettings>,
);

fn targets(config: &KeepalivedConfig, sec: &mut ScriptSecurity, logs: &mut Vec<String>) -> Targets {
    let g = &config.global;
    let default_alert = g.smtp_alert.unwrap_or(false);
    let mut instances = HashMap::new();
    for i in &config.instances {
        let scripts = Scripts::new(&i.notify, sec, logs);
        instances.insert(
            i.name.clone(),
            Target {
                scripts,
                smtp_alert: i.smtp_alert.unwrap_or(default_alert),
                last_email_state: None,
            },
        );
    }
    let mut groups = HashMap::new();
    for sg in &config.sync_groups {
        let scripts = Scripts::new(&sg.notify, sec, logs);
        groups.insert(
            sg.name.clone(),
            Target {
                scripts,
                smtp_alert: sg.smtp_alert.unwrap_or(default_alert),
                last_email_state: None,
            },
        );
    }
    let smtp = match &g.smtp_server {
        Some(server) if !g.notification_email.is_empty() => {
            let local = local_name();
            let user = User::from_uid(getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| "root".to_string());
            Some(SmtpSettings {
                server: (server.host.clone(), server.port),
                helo: g.smtp_helo_name.clone().unwrap_or_else(|| local.clone()),
                from: g
                    .notification_email_from
                    .clone()
                    .unwrap_or_else(|| format!("{user}@{local}")),
                to: g.notification_email.clone(),
                router_id: g.router_id.clone().unwrap_or(local),
                timeout: g.smtp_connect_timeout,
            })
        }
        _ => None,
    };
    (instances, groups, smtp)
}

impl Notifier {
    /// Prepares every notify script of `config` (keepalived's user and security rules, its
    /// messages to `log`), opens the global notify FIFOs (starting their scripts) and sets
    /// up SMTP alerts.
    pub fn new(config: &KeepalivedConfig, log: Sender<Input>) -> Notifier {
        let mut sec = ScriptSecurity::new(&config.global);
        let mut logs = Vec::new();
        let (instances, groups, smtp) = targets(config, &mut sec, &mut logs);
        for l in logs {
            let _ = log.send(Input::Log(l));
        }
        let fifos = NotifyFifos::open(&config.global, false, &mut sec, &log);
        Notifier {
            instances,
            groups,
            fifos,
            smtp,
            tx: log,
        }
    }

    /// A reload replaces the configuration by `config` (keepalived's `reload_vrrp_thread()`):
    /// the FIFO scripts are terminated, the FIFOs closed (those we created removed), and
    /// `config`'s opened, with their scripts started. The instance and group scripts stay
    /// until [`Notifier::reloaded`]: the instances the reload deletes notify with theirs.
    pub fn reloading(&mut self, config: &KeepalivedConfig) {
        // The old FIFOs go before the new ones are made: they may have the same path.
        self.fifos = NotifyFifos::default();
        let mut sec = ScriptSecurity::new(&config.global);
        self.fifos = NotifyFifos::open(&config.global, true, &mut sec, &self.tx);
    }

    /// The reload is done: notifications follow `config`.
    pub fn reloaded(&mut self, config: &KeepalivedConfig) {
        let mut sec = ScriptSecurity::new(&config.global);
        let mut logs = Vec::new();
        let (instances, groups, smtp) = targets(config, &mut sec, &mut logs);
        for l in logs {
            self.log(l);
        }
        self.instances = instances;
        self.groups = groups;
        self.smtp = smtp;
    }

    /// Shut-down begins: the FIFO scripts are terminated before the `STOP` notifications.
    pub fn stopping(&mut self) {
        self.fifos.stopping();
    }

    /// Opens (creating it if missing, as keepalived's `fifo_open()`) a further notify FIFO
    /// every line is written to, without a script.
    pub fn add_fifo(&mut self, path: &str) {
        self.fifos.add(path, &self.tx);
    }

    /// The SMTP settings in use, if alerts can be mailed.
    pub fn smtp(&self) -> Option<&SmtpSettings> {
        self.smtp.as_ref()
    }

    fn log(&self, line: String) {
        let _ = self.tx.send(Input::Log(line));
    }

    fn fifo_line(&mut self, kind: &str, name: &str, state: &str, priority: u8) {
        self.fifos
            .write_line(&format!("{kind} \"{name}\" {state} {priority}\n"));
    }

    /// An instance entered `state` with effective priority `priority`
    /// (`send_instance_notifies()`).
    pub fn instance_state(&mut self, instance: &str, state: NotifyState, priority: u8) {
        let Some(t) = self.instances.get(instance) else {
            return;
        };
        let state = if state == NotifyState::Deleted && !t.scripts.notify_deleted {
            NotifyState::Fault
        } else {
            state
        };
        if let Some(s) = t.scripts.for_state(state) {
            run_script(s, &[], state == NotifyState::Stop, &self.tx);
        }
        if let Some(s) = &t.scripts.any {
            let extra = [
                "INSTANCE".to_string(),
                instance.to_string(),
                state.word().to_string(),
                priority.to_string(),
            ];
            run_script(s, &extra, state == NotifyState::Stop, &self.tx);
        }
        self.fifo_line("INSTANCE", instance, state.word(), priority);
        let (subject, body) = match state {
            NotifyState::Master => (
                "Entering MASTER state",
                "=> VRRP Instance is now owning VRRP VIPs <=",
            ),
            NotifyState::Backup => (
                "Entering BACKUP state",
                "=> VRRP Instance is no longer owning VRRP VIPs <=",
            ),
            NotifyState::Fault => (
                "Entering FAULT state",
                "=> VRRP Instance is no longer owning VRRP VIPs <=",
            ),
            NotifyState::Stop => ("Stopping", "=> VRRP Instance stopping <="),
            NotifyState::Deleted => ("Deleted", "=> VRRP Deleted at reload <="),
        };
        self.alert(false, instance, state, subject, body);
    }

    /// A sync group entered `state` (`send_group_notifies()`; the priority is always 0).
    pub fn group_state(&mut self, group: &str, state: NotifyState) {
        let Some(t) = self.groups.get(group) else {
            return;
        };
        if let Some(s) = t
            .scripts
            .for_state(state)
            .filter(|_| state != NotifyState::Deleted)
        {
            run_script(s, &[], false, &self.tx);
        }
        if let Some(s) = &t.scripts.any {
            let extra = [
                "GROUP".to_string(),
                group.to_string(),
                state.word().to_string(),
                "0".to_string(),
            ];
            run_script(s, &extra, state == NotifyState::Stop, &self.tx);
        }
        self.fifo_line("GROUP", group, state.word(), 0);
        let (subject, body) = match state {
            NotifyState::Master => (
                "Entering MASTER state",
                "=> All VRRP group instances are now in MASTER state <=",
            ),
            NotifyState::Backup => (
                "Entering BACKUP state",
                "=> All VRRP group instances are now in BACKUP state <=",
            ),
            NotifyState::Fault => (
                "Entering FAULT state",
                "=> All VRRP group instances are now in FAULT state <=",
            ),
            NotifyState::Stop => (
                "Stopping",
                "=> All VRRP group instances are now stopping <=",
            ),
            NotifyState::Deleted => return,
        };
        self.alert(true, group, state, subject, body);
    }

    /// A master received an advert of lower priority (`send_event_notify()`):
    /// `notify_master_rx_lower_pri` (no extra arguments) and a `MASTER_RX_LOWER_PRI` line.
    pub fn master_rx_lower_pri(&mut self, instance: &str, priority: u8) {
        if let Some(s) = self
            .instances
            .get(instance)
            .and_then(|t| t.scripts.master_rx_lower_pri.as_ref())
        {
            run_script(s, &[], false, &self.tx);
        }
        self.fifo_line("INSTANCE", instance, "MASTER_RX_LOWER_PRI", priority);
    }

    /// The effective priority changed (`send_instance_priority_notifies()`): a
    /// `MASTER_PRIORITY` or `BACKUP_PRIORITY` line.
    pub fn priority_change(&mut self, instance: &str, master: bool, priority: u8) {
        let what = if master {
            "MASTER_PRIORITY"
        } else {
            "BACKUP_PRIORITY"
        };
        self.fifo_line("INSTANCE", instance, what, priority);
    }

    fn alert(&mut self, group: bool, name: &str, state: NotifyState, subject: &str, body: &str) {
        let Some(smtp) = self.smtp.clone() else {
            return;
        };
        let t = if group {
            self.groups.get_mut(name)
        } else {
            self.instances.get_mut(name)
        };
        let Some(t) = t else { return };
        if !t.smtp_alert || t.last_email_state == Some(state) {
            return;
        }
        t.last_email_state = Some(state);
        let subject = format!(
            "[{}] VRRP {} {} - {}",
            smtp.router_id,
            if group { "Group" } else { "Instance" },
            name,
            subject
        );
        let body = body.to_string();
        let tx = self.tx.clone();
        let spawned = std::thread::Builder::new()
            .name("smtp_alert".to_string())
            .spawn(move || {
                for l in send_mail(&smtp, &subject, &body, SystemTime::now()) {
                    let _ = tx.send(Input::Log(l));
                }
            });
        if spawned.is_err() {
            self.log("Failed fork process".to_string());
        }
    }
}

/// Starts `script` with `extra` arguments and reaps it on a thread. A `STOP` script is
/// killed (its process group) if still running after 1 s, as keepalived's
/// `child_killed_thread` does at shut-down.
fn run_script(script: &PreparedScript, extra: &[String], is_stop: bool, tx: &Sender<Input>) {
    let mut child: Child = match script.command(extra).spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Input::Log(script.exec_error(&e)));
            return;
        }
    };
    let reaper = move || {
        if is_stop {
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = child.wait();
    };
    if std::thread::Builder::new()
        .name("notify reaper".to_string())
        .spawn(reaper)
        .is_err()
    {
        let _ = tx.send(Input::Log("Failed fork process".to_string()));
    }
}

/// `Date:` as keepalived's `strftime("%a, %d %b %Y %H:%M:%S %z")`, in UTC.
pub fn rfc822_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = WD[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let mon = MON[usize::try_from(month - 1).unwrap_or(0)];
    format!("{wd}, {d:02} {mon} {year} {h:02}:{m:02}:{s:02} +0000")
}

/// The DATA part keepalived sends (`SMTP_HEADERS_CMD SMTP_BODY_CMD SMTP_SEND_CMD`).
pub fn mail_data(smtp: &SmtpSettings, subject: &str, body: &str, date: &str) -> String {
    format!(
        "Date: {date}\r\nFrom: {}\r\nSubject: {subject}\r\nX-Mailer: Keepalived\r\nTo: {}\r\n\r\n{body}\r\n\r\n.\r\n",
        smtp.from,
        smtp.to.join(", ")
    )
}

fn fmt_host(a: &SocketAddr) -> String {
    format!("[{}]:{}", a.ip(), a.port())
}

/// keepalived's SMTP dialogue (`smtp.c`): returns the lines it would log.
pub fn send_mail(smtp: &SmtpSettings, subject: &str, body: &str, now: SystemTime) -> Vec<String> {
    let mut logs = Vec::new();
    let Some(addr) = (smtp.server.0.as_str(), smtp.server.1)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        logs.push(format!(
            "SMTP connection ERROR to [{}]:{}.",
            smtp.server.0, smtp.server.1
        ));
        return logs;
    };
    let host = fmt_host(&addr);
    let timeout = if smtp.timeout.is_zero() {
        Duration::from_secs(30)
    } else {
        smtp.timeout
    };
    let stream = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            logs.push(format!(
                "Timeout opening connection to remote SMTP server {host}."
            ));
            return logs;
        }
        Err(_) => {
            logs.push(format!("SMTP connection ERROR to {host}."));
            return logs;
        }
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let Ok(write_half) = stream.try_clone() else {
        logs.push(format!("SMTP connection ERROR to {host}."));
        return logs;
    };
    let mut w = write_half;
    let mut r = BufReader::new(stream);

    enum Reply {
        Code(u16),
        Timeout,
        Closed,
        Error,
    }
    let read_reply = |r: &mut BufReader<TcpStream>| -> Reply {
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) => return Reply::Closed,
                Ok(_) => {
                    let b = line.as_bytes();
                    if b.len() >= 4 && b[3] == b'-' {
                        continue;
                    }
                    if b.len() < 3 {
                        continue;
                    }
                    let code = b[..3]
                        .iter()
                        .fold(0i32, |acc, c| acc * 10 + (i32::from(*c) - i32::from(b'0')));
                    return Reply::Code(u16::try_from(code).unwrap_or(0));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Reply::Timeout
                }
                Err(_) => return Reply::Error,
            }
        }
    };

    // (what is sent, expected code, name in keepalived's error line)
    let mut steps: Vec<(String, u16, &str)> = vec![
        (String::new(), 220, "(E)SMTP"),
        (format!("HELO {}\r\n", smtp.helo), 250, "HELO"),
        (format!("MAIL FROM:<{}>\r\n", smtp.from), 250, "MAIL"),
    ];
    for to in &smtp.to {
        steps.push((format!("RCPT TO:<{to}>\r\n"), 250, "RCPT"));
    }
    steps.push(("DATA\r\n".to_string(), 354, "DATA"));
    steps.push((
        mail_data(smtp, subject, body, &rfc822_date(now)),
        250,
        "BODY",
    ));
    let quit = |w: &mut TcpStream, r: &mut BufReader<TcpStream>, logs: &mut Vec<String>| {
        if w.write_all(b"QUIT\r\n").is_err() {
            logs.push(format!("Cannot send data to remote SMTP server {host}."));
            return;
        }
        match read_reply(r) {
            Reply::Timeout => logs.push(format!(
                "Timeout reading data to remote SMTP server {host}."
            )),
            Reply::Closed => logs.push(format!(
                "Remote SMTP server {host} has closed the connection."
            )),
            Reply::Error => logs.push(format!(
                "Error reading data from remote SMTP server {host}."
            )),
            Reply::Code(c) if c != 221 => logs.push(format!(
                "Error processing QUIT cmd on SMTP server {host}. SMTP status code = {c}"
            )),
            Reply::Code(_) => {}
        }
    };
    for (send, expect, name) in steps {
        if !send.is_empty() && w.write_all(send.as_bytes()).is_err() {
            logs.push(format!("Cannot send data to remote SMTP server {host}."));
            return logs;
        }
        match read_reply(&mut r) {
            Reply::Code(c) if c == expect => {
                if name == "BODY" {
                    logs.push("SMTP alert successfully sent.".to_string());
                }
            }
            Reply::Code(c) => {
                logs.push(format!(
                    "Error processing {name} cmd on SMTP server {host}. SMTP status code = {c}"
                ));
                quit(&mut w, &mut r, &mut logs);
                return logs;
            }
            Reply::Timeout => {
                logs.push(format!(
                    "Timeout reading data to remote SMTP server {host}."
                ));
                quit(&mut w, &mut r, &mut logs);
                return logs;
            }
            Reply::Closed => {
                logs.push(format!(
                    "Remote SMTP server {host} has closed the connection."
                ));
                return logs;
            }
            Reply::Error => {
                logs.push(format!(
                    "Error reading data from remote SMTP server {host}."
                ));
                quit(&mut w, &mut r, &mut logs);
                return logs;
            }
        }
    }
    quit(&mut w, &mut r, &mut logs);
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc822_dates() {
        assert_eq!(rfc822_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        let t = UNIX_EPOCH + Duration::from_secs(1_614_591_848);
        // keepalived's own example in smtp.c: "Mon, 01 Mar 2021 09:44:08 +0000".
        assert_eq!(rfc822_date(t), "Mon, 01 Mar 2021 09:44:08 +0000");
    }

    #[test]
    fn state_words() {
        assert_eq!(NotifyState::Master.word(), "MASTER");
        assert_eq!(NotifyState::Deleted.word(), "DELETED");
    }
}
