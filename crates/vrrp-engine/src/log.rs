//! Where keepalived's log lines go, in its formats:
//! - the console (`-l` / `--log-console`, or `-n` without a syslog): `Sun Nov 22 00:55:05
//!   2026: (VI_1) Entering MASTER STATE`, the `ctime()` form keepalived 2.2.7 prints;
//! - syslog through `/dev/log`: `<30>Nov 22 00:55:05 Keepalived_vrrp[PID]: ...` with the
//!   facility of `-S` (LOG_DAEMON by default) and level INFO.
//!
//! Times are local, as keepalived's `localtime()` gives them: the zone of `TZ`, else
//! `/etc/localtime` (daylight saving included), read once.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// LOG_DAEMON.
pub const FACILITY_DAEMON: u8 = 3;
/// LOG_INFO.
const LEVEL_INFO: u8 = 6;
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Thursday (1970-01-01 was one).
    weekday_from_thursday: u32,
}

/// Seconds since the epoch to a UTC date and time (Howard Hinnant's `civil_from_days`).
pub fn civil(epoch_seconds: i64) -> Civil {
    let days = epoch_seconds.div_euclid(86_400);
    let secs = epoch_seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // All values below are small and non-negative by construction.
    Civil {
        year,
        month: month as u32,
        day: day as u32,
        hour: (secs / 3600) as u32,
        minute: (secs % 3600 / 60) as u32,
        second: (secs % 60) as u32,
        weekday_from_thursday: days.rem_euclid(7) as u32,
    }
}

fn month_name(c: &Civil) -> &'static str {
    MONTHS[(c.month as usize).saturating_sub(1).min(11)]
}

/// keepalived's console prefix: `ctime()` without its newline, `Sun Nov 22 00:55:05 2026`.
pub fn console_time(c: &Civil) -> String {
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[c.weekday_from_thursday as usize % 7],
        month_name(c),
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.year
    )
}

/// The RFC 3164 line glibc's `syslog()` sends: `<PRI>Mmm dd hh:mm:ss IDENT[PID]: MSG`.
pub fn syslog_line(facility: u8, c: &Civil, ident: &str, pid: u32, message: &str) -> String {
    format!(
        "<{}>{} {:2} {:02}:{:02}:{:02} {ident}[{pid}]: {message}",
        u32::from(facility) * 8 + u32::from(LEVEL_INFO),
        month_name(c),
        c.day,
        c.hour,
        c.minute,
        c.second
    )
}

fn now_civil() -> Civil {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    local_civil(secs)
}

/// The zone glibc's `tzset()` takes for a `TZ` of `tz_var` (`None`: unset): a zone name,
/// `:name`, a file or a POSIX rule; empty means UTC; unset means `/etc/localtime`. `None`
/// (UTC) when it cannot be read, as glibc falls back to UTC.
fn zone_for(tz_var: Option<&str>) -> Option<tz::TimeZone> {
    match tz_var {
        Some("") => None,
        Some(name) => tz::TimeZone::from_posix_tz(name).ok(),
        None => tz::TimeZone::local().ok(),
    }
}

/// The host's zone, read once (glibc reads it once too, at the first `localtime()`).
fn host_zone() -> Option<&'static tz::TimeZone> {
    static ZONE: std::sync::OnceLock<Option<tz::TimeZone>> = std::sync::OnceLock::new();
    ZONE.get_or_init(|| zone_for(std::env::var("TZ").ok().as_deref()))
        .as_ref()
}

fn civil_in(zone: Option<&tz::TimeZone>, epoch_seconds: i64) -> Civil {
    let offset = zone
        .and_then(|zone| zone.find_local_time_type(epoch_seconds).ok())
        .map_or(0, tz::LocalTimeType::ut_offset);
    civil(epoch_seconds.saturating_add(i64::from(offset)))
}

/// Seconds since the epoch to the host's local date and time.
pub fn local_civil(epoch_seconds: i64) -> Civil {
    civil_in(host_zone(), epoch_seconds)
}

/// Where lines go. Cloning shares the sinks.
#[derive(Debug, Clone)]
pub struct Logger {
    inner: Arc<Mutex<Sinks>>,
}

#[derive(Debug)]
struct Sinks {
    console: bool,
    syslog: Option<UnixDatagram>,
    facility: u8,
    ident: String,
    /// Lines kept for tests (`Logger::memory`).
    memory: Option<Vec<String>>,
}

impl Logger {
    /// keepalived's sinks: the console when `console` (`-l`), syslog unless `no_syslog`.
    pub fn new(console: bool, no_syslog: bool, facility: u8, ident: &str) -> Logger {
        let syslog = if no_syslog {
            None
        } else {
            UnixDatagram::unbound()
                .ok()
                .filter(|s| s.connect("/dev/log").is_ok())
        };
        Logger {
            inner: Arc::new(Mutex::new(Sinks {
                console,
                syslog,
                facility,
                ident: ident.to_owned(),
                memory: None,
            })),
        }
    }

    /// A logger that only remembers lines (tests).
    pub fn memory() -> Logger {
        Logger {
            inner: Arc::new(Mutex::new(Sinks {
                console: false,
                syslog: None,
                facility: FACILITY_DAEMON,
                ident: String::new(),
                memory: Some(Vec::new()),
            })),
        }
    }

    /// The lines a [`Logger::memory`] logger kept.
    pub fn lines(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|s| s.memory.clone().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Logs one line at INFO.
    pub fn info(&self, message: &str) {
        let Ok(mut sinks) = self.inner.lock() else {
            return;
        };
        let c = now_civil();
        if sinks.console {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}: {message}", console_time(&c));
        }
        if let Some(sock) = &sinks.syslog {
            let line = syslog_line(
                sinks.facility,
                &c,
                &sinks.ident,
                std::process::id(),
                message,
            );
            let _ = sock.send(line.as_bytes());
        }
        if let Some(mem) = sinks.memory.as_mut() {
            mem.push(message.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {

    /// keepalived's console time is `ctime()`, so glibc's `localtime()`: compared with
    /// `date` under the same `TZ` (daylight saving both ways, a half-hour zone, a POSIX
    /// rule, empty and unknown `TZ`), around the 2026 transitions.
    #[test]
    fn local_times_are_glibc_local_time() {
        let zones = [
            "Europe/Paris",
            ":America/New_York",
            "Australia/Lord_Howe",
            "EST5EDT,M3.2.0,M11.1.0",
            "",
            "No/Such_Zone",
        ];
        let instants = [
            1_774_745_999,
            1_774_746_000,
            1_772_953_200,
            1_775_314_800,
            1_783_000_000,
            1_795_308_905,
        ];
        for zone in zones {
            let tz = zone_for(Some(zone));
            for secs in instants {
                let Ok(out) = std::process::Command::new("date")
                    .env("TZ", zone)
                    .arg("-d")
                    .arg(format!("@{secs}"))
                    .arg("+%a %b %e %H:%M:%S %Y")
                    .output()
                else {
                    eprintln!("no date(1): skipped");
                    return;
                };
                let glibc = String::from_utf8_lossy(&out.stdout).trim().to_string();
                assert_eq!(
                    console_time(&civil_in(tz.as_ref(), secs)),
                    glibc,
                    "TZ={zone:?} at {secs}"
                );
            }
        }
    }

    use super::*;

    #[test]
    fn ctime_form_matches_keepalived() {
        // 2026-11-22 00:55:05 UTC, a Sunday, as in a real keepalived log of the labs.
        let c = civil(1_795_308_905);
        assert_eq!(console_time(&c), "Sun Nov 22 00:55:05 2026");
        let c = civil(0);
        assert_eq!(console_time(&c), "Thu Jan  1 00:00:00 1970");
        assert_eq!(
            syslog_line(FACILITY_DAEMON, &c, "Keepalived_vrrp", 7, "x"),
            "<30>Jan  1 00:00:00 Keepalived_vrrp[7]: x"
        );
    }
}
