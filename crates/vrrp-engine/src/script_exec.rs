//! Running a configured script as keepalived 2.2.7 does (`lib/notify.c`): which user runs
//! it (`script_user`, per-script `user`, the default `keepalived_script`), the security
//! checks of `check_script_secure()` with keepalived's messages, and the child set-up of
//! `system_call_script()`: execve of the argv (no shell), its own process group, stdin,
//! stdout and stderr on /dev/null.
//!
//! Differences, each for a stated reason:
//! - keepalived resolves the path with the script user's euid; threads share credentials,
//!   so here the checks run with ours (root): a script root can reach but the user cannot
//!   still fails at exec, as `Error exec-ing command`.
//! - `PR_SET_PDEATHSIG` needs `pre_exec`, which is `unsafe`; the runners kill their
//!   children when dropped instead.
//! - keepalived runs a script without a `#!` line, and a `</file` test, through
//!   `system(3)`; no shell is run here: the former fails at exec, the latter is refused
//!   with the message below.
//! - Supplementary groups are cleared (std's `uid()`), keepalived sets them to the gid.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use keepalived_conf::model::{GlobalDefs, ScriptUser};
use nix::errno::Errno;
use nix::unistd::{getegid, geteuid, Group, User};

const SC_ISSCRIPT: u32 = 0x01;
const SC_INHIBIT: u32 = 0x02;
const SC_NOTFOUND: u32 = 0x04;
const SC_EXECUTABLE: u32 = 0x08;
const SC_INSECURE: u32 = 0x10;
const SC_SYSTEM: u32 = 0x20;

/// A script cleared to run: the argv (argv[0] resolved as keepalived resolves it) and the
/// uid/gid it runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedScript {
    /// What is exec'd: argv[0] is the resolved path.
    pub argv: Vec<String>,
    /// The user it runs as.
    pub uid: u32,
    /// The group it runs as.
    pub gid: u32,
}

impl PreparedScript {
    /// The command for one run, with `extra` appended to the argv.
    pub fn command(&self, extra: &[String]) -> Command {
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that killing it kills what it started too.
            .process_group(0);
        if self.gid != getegid().as_raw() {
            cmd.gid(self.gid);
        }
        if self.uid != geteuid().as_raw() {
            cmd.uid(self.uid);
        }
        cmd
    }

    /// The log line keepalived's child writes when execve fails (after which the child
    /// exits 0: "Script errors aren't server errors").
    pub fn exec_error(&self, err: &io::Error) -> String {
        let errno = err.raw_os_error().unwrap_or(0);
        format!(
            "Error exec-ing command '{}', error {}: {}",
            self.argv[0],
            errno,
            Errno::from_raw(errno).desc()
        )
    }
}

/// Which kind of script is being prepared (the messages differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind<'a> {
    /// `vrrp_script NAME`.
    Track(&'a str),
    /// A `notify*` command.
    Notify,
    /// `notify_fifo_script` (`""`) or `vrrp_notify_fifo_script` (`"vrrp_"`).
    NotifyFifo(&'a str),
}

/// The user context shared by all scripts of a configuration: `enable_script_security`
/// and the default user, resolved once as keepalived does (`get_default_script_user()`).
#[derive(Debug)]
pub struct ScriptSecurity {
    script_security: bool,
    global_user: Option<ScriptUser>,
    /// `None`: not resolved yet; `Some(None)`: resolving failed.
    default: Option<Option<(u32, u32)>>,
}

impl ScriptSecurity {
    /// From `global_defs`.
    pub fn new(global: &GlobalDefs) -> ScriptSecurity {
        ScriptSecurity {
            script_security: global.enable_script_security,
            global_user: global.script_user.clone(),
            default: None,
        }
    }

    /// keepalived's `get_default_script_user()`: the global `script_user`, else
    /// `keepalived_script` if it exists, else ours; `None` when that fails.
    pub(crate) fn default_user(&mut self, logs: &mut Vec<String>) -> Option<(u32, u32)> {
        if let Some(d) = self.default {
            return d;
        }
        let d = match &self.global_user {
            Some(u) => {
                let r = resolve_user(u, logs);
                if r.is_none() {
                    logs.push("Error setting global script uid/gid".to_string());
                }
                r
            }
            None => {
                let user = ScriptUser {
                    user: "keepalived_script".to_string(),
                    group: None,
                };
                match resolve_user(&user, logs) {
                    Some(ids) => Some(ids),
                    None if self.script_security => {
                        logs.push(
                            "Unable to set default user keepalived_script for script".to_string(),
                        );
                        None
                    }
                    None => Some((geteuid().as_raw(), getegid().as_raw())),
                }
            }
        };
        self.default = Some(d);
        d
    }

    /// Resolves the user and runs keepalived's security checks; `None` (with the reasons in
    /// `logs`) when keepalived would not run the script.
    pub fn prepare(
        &mut self,
        kind: ScriptKind<'_>,
        argv: &[String],
        user: Option<&ScriptUser>,
        logs: &mut Vec<String>,
    ) -> Option<PreparedScript> {
        let first = argv.first()?;
        let ids = match user {
            Some(u) => match resolve_user(u, logs) {
                Some(ids) => ids,
                None => {
                    logs.push(match kind {
                        ScriptKind::Track(_) => {
                            format!("Unable to set uid/gid for script {}", cmd_str(argv))
                        }
                        ScriptKind::Notify => {
                            format!("Invalid user/group for notify script {first} - ignoring")
                        }
                        ScriptKind::NotifyFifo(prefix) => format!(
                            "Invalid user/group for {prefix}notify_fifo script {first} - ignoring"
                        ),
                    });
                    return None;
                }
            },
            None => match self.default_user(logs) {
                Some(ids) => ids,
                None => {
                    logs.push(match kind {
                        ScriptKind::Track(name) => {
                            format!("Unable to set default user for vrrp script {name} - removing")
                        }
                        ScriptKind::Notify => format!(
                            "Failed to set default user for notify script {first} - ignoring"
                        ),
                        ScriptKind::NotifyFifo(prefix) => format!(
                            "Failed to set default user for {prefix}notify_fifo script {first} - ignoring"
                        ),
                    });
                    return None;
                }
            },
        };
        let mut script = PreparedScript {
            argv: argv.to_vec(),
            uid: ids.0,
            gid: ids.1,
        };
        let flags = check_script_secure(&mut script, self.script_security, logs);
        if flags & SC_SYSTEM != 0 {
            logs.push(format!(
                "ha-compat: script {first} is a file test run through a shell by keepalived; no shell is run here - disabling"
            ));
            return None;
        }
        match kind {
            ScriptKind::Track(name) => {
                if flags & SC_INHIBIT != 0 {
                    logs.push(format!("Disabling track script {name} due to insecure"));
                    return None;
                }
                if flags & SC_NOTFOUND != 0 {
                    logs.push(format!(
                        "Disabling track script {name} since not found/accessible"
                    ));
                    return None;
                }
                if flags & SC_EXECUTABLE == 0 {
                    return None;
                }
            }
            ScriptKind::Notify | ScriptKind::NotifyFifo(_) => {
                // `check_notify_script_secure()`.
                if flags & (SC_INHIBIT | SC_NOTFOUND) != 0 || flags & SC_EXECUTABLE == 0 {
                    return None;
                }
            }
        }
        Some(script)
    }
}

/// keepalived's `cmd_str()`: each word in single quotes, joined by spaces.
pub fn cmd_str(argv: &[String]) -> String {
    argv.iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 && (a.starts_with('<') || a.starts_with('>')) {
                a.clone()
            } else {
                format!("'{a}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `set_uid_gid()`: the uid and gid (the user's primary group unless one is named).
pub(crate) fn resolve_user(u: &ScriptUser, logs: &mut Vec<String>) -> Option<(u32, u32)> {
    let user = match User::from_name(&u.user) {
        Err(_) => {
            logs.push(format!(
                "Unable to resolve script username '{}' - ignoring",
                u.user
            ));
            return None;
        }
        Ok(None) => {
            logs.push(format!("Script user '{}' does not exist", u.user));
            return None;
        }
        Ok(Some(user)) => user,
    };
    let mut gid = user.gid.as_raw();
    if let Some(g) = &u.group {
        match Group::from_name(g) {
            Err(_) => {
                logs.push(format!(
                    "Unable to resolve script group name '{g}' - ignoring"
                ));
                return None;
            }
            Ok(None) => {
                logs.push(format!("Script group '{g}' does not exist"));
                return None;
            }
            Ok(Some(group)) => gid = group.gid.as_raw(),
        }
    }
    Some((user.uid.as_raw(), gid))
}

/// `is_executable()`.
fn is_executable(meta: &fs::Metadata, uid: u32, gid: u32) -> bool {
    let mode = meta.permissions().mode();
    (uid == 0 && mode & 0o111 != 0)
        || (uid == meta.uid() && mode & 0o100 != 0)
        || (uid != meta.uid()
            && ((gid == meta.gid() && mode & 0o010 != 0)
                || (gid != meta.gid() && mode & 0o001 != 0)))
}

fn errno_of(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// `find_path()`: a bare name is looked up in `PATH` (or `_CS_PATH`, "/bin:/usr/bin").
fn find_path(script: &mut PreparedScript, logs: &mut Vec<String>) -> Result<(), Errno> {
    let file = script.argv[0].clone();
    if file.is_empty() {
        return Err(Errno::ENOENT);
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/bin:/usr/bin".to_string());
    let mut got_eacces = false;
    for dir in path.split(':') {
        let candidate = if dir.is_empty() {
            file.clone()
        } else {
            format!("{dir}/{file}")
        };
        if let Ok(meta) = fs::metadata(&candidate) {
            if meta.is_file() && is_executable(&meta, script.uid, script.gid) {
                logs.push(format!(
                    "WARNING - script `{file}` resolved by path search to `{candidate}`. Please specify full path."
                ));
                script.argv[0] = candidate;
                return Ok(());
            }
            got_eacces = true;
        }
    }
    Err(if got_eacces {
        Errno::EACCES
    } else {
        Errno::ENOENT
    })
}

/// `check_security()`: every directory on the way and the file itself must be owned by root
/// and not writable by a non-root group or by others (sticky directories excepted).
fn check_security(filename: &str, script_security: bool, logs: &mut Vec<String>) -> u32 {
    let mut prefixes: Vec<String> = Vec::new();
    for (i, c) in filename.char_indices() {
        if c == '/' {
            prefixes.push(if i == 0 {
                "/".to_string()
            } else {
                filename[..i].to_string()
            });
        }
    }
    let last_is_slash = filename.ends_with('/');
    if !last_is_slash {
        prefixes.push(filename.to_string());
    }
    let n = prefixes.len();
    for (i, p) in prefixes.iter().enumerate() {
        let is_last = i + 1 == n && !last_is_slash;
        let meta = match fs::symlink_metadata(p) {
            Ok(m) => m,
            Err(e) => {
                let errno = errno_of(&e);
                if matches!(
                    errno,
                    Errno::EACCES | Errno::ELOOP | Errno::ENOENT | Errno::ENOTDIR
                ) {
                    logs.push(format!(
                        "check_script_secure could not find script '{filename}' - disabling"
                    ));
                } else {
                    logs.push(format!(
                        "check_script_secure('{filename}') returned errno {} - {} - disabling",
                        errno as i32,
                        errno.desc()
                    ));
                }
                return SC_NOTFOUND;
            }
        };
        let ft = meta.file_type();
        if (!is_last && !ft.is_dir()) || (is_last && !ft.is_file() && !ft.is_symlink()) {
            logs.push(format!(
                "Wrong file type found in script path '{filename}'."
            ));
            return SC_INHIBIT;
        }
        let mode = meta.permissions().mode();
        let sticky_less_dir = ft.is_dir() && mode & 0o1000 == 0;
        if meta.uid() != 0
            || ((sticky_less_dir || ft.is_file())
                && ((meta.gid() != 0 && mode & 0o020 != 0) || mode & 0o002 != 0))
        {
            logs.push(format!(
                "Unsafe permissions found for script '{filename}'{}.",
                if script_security { " - disabling" } else { "" }
            ));
            return SC_INSECURE | if script_security { SC_INHIBIT } else { 0 };
        }
    }
    0
}

/// `check_script_secure()`, without libmagic. Rewrites argv[0] as keepalived does.
fn check_script_secure(
    script: &mut PreparedScript,
    script_security: bool,
    logs: &mut Vec<String>,
) -> u32 {
    let a0 = script.argv[0].clone();
    if let Some(rest) = a0.strip_prefix('<') {
        if rest.trim_start_matches([' ', '\t']).starts_with('/') {
            return SC_SYSTEM;
        }
    }
    if !a0.contains('/') {
        if let Err(e) = find_path(script, logs) {
            if e == Errno::EACCES {
                logs.push(format!(
                    "Permissions failure for script {a0} in path - disabling"
                ));
            } else {
                logs.push(format!("Cannot find script {a0} in path - disabling"));
            }
            return SC_NOTFOUND;
        }
    }
    let orig = script.argv[0].clone();
    let real = match fs::canonicalize(&orig) {
        Ok(p) => p.to_string_lossy().into_owned(),
        Err(e) => {
            logs.push(format!(
                "Script {orig} cannot be accessed - {}",
                errno_of(&e).desc()
            ));
            return SC_NOTFOUND;
        }
    };
    let mut real_file_path: Option<String> = None;
    let mut new_path = real.clone();
    if orig != real {
        let orig_part = orig.rsplit('/').next().unwrap_or("");
        let (real_dir, real_part) = real.rsplit_once('/').unwrap_or(("", real.as_str()));
        if orig_part != real_part {
            // Keep the name the script was called by: some programs act on it.
            let candidate = format!("{real_dir}/{orig_part}");
            let same = match (fs::metadata(&real), fs::metadata(&candidate)) {
                (Ok(r), Ok(c)) => r.dev() == c.dev() && r.ino() == c.ino(),
                (Err(_), _) => true,
                _ => false,
            };
            if same {
                real_file_path = Some(real.clone());
                new_path = candidate;
            }
        }
        if orig != new_path {
            script.argv[0] = new_path;
        }
    }
    let meta = match fs::metadata(real_file_path.as_deref().unwrap_or(&script.argv[0])) {
        Ok(m) => m,
        Err(_) => {
            logs.push(format!(
                "Unable to access script `{}` - disabling",
                script.argv[0]
            ));
            return SC_NOTFOUND;
        }
    };
    let mut flags = SC_ISSCRIPT;
    let mut need_protection = false;
    if is_executable(&meta, script.uid, script.gid) {
        flags |= SC_EXECUTABLE;
        let mode = meta.permissions().mode();
        if script.uid == 0
            || script.gid == 0
            || (meta.uid() == 0 && mode & 0o100 != 0 && mode & 0o4000 != 0)
            || (meta.gid() == 0 && mode & 0o010 != 0 && mode & 0o2000 != 0)
        {
            need_protection = true;
        }
    } else {
        logs.push(format!(
            "WARNING - script '{}' is not executable for uid:gid {}:{} - disabling.",
            script.argv[0], script.uid, script.gid
        ));
    }
    if !need_protection {
        return flags;
    }
    let a0 = script.argv[0].clone();
    flags |= check_security(&a0, script_security, logs);
    if let Some(r) = real_file_path {
        flags |= check_security(&r, script_security, logs);
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(sec: bool, argv: &[&str]) -> (Option<PreparedScript>, Vec<String>) {
        // keepalived_script may not exist here: with script security that alone refuses.
        let g = GlobalDefs {
            enable_script_security: sec,
            script_user: Some(ScriptUser {
                user: "root".into(),
                group: None,
            }),
            ..GlobalDefs::default()
        };
        let mut s = ScriptSecurity::new(&g);
        let mut logs = Vec::new();
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let r = s.prepare(ScriptKind::Track("chk"), &argv, None, &mut logs);
        (r, logs)
    }

    #[test]
    fn script_security_without_keepalived_script_user_refuses() {
        if User::from_name("keepalived_script")
            .ok()
            .flatten()
            .is_some()
        {
            return;
        }
        let g = GlobalDefs {
            enable_script_security: true,
            ..GlobalDefs::default()
        };
        let mut s = ScriptSecurity::new(&g);
        let mut logs = Vec::new();
        let r = s.prepare(
            ScriptKind::Track("chk"),
            &["/bin/true".to_string()],
            None,
            &mut logs,
        );
        assert!(r.is_none());
        assert_eq!(
            logs,
            vec![
                "Script user 'keepalived_script' does not exist".to_string(),
                "Unable to set default user keepalived_script for script".to_string(),
                "Unable to set default user for vrrp script chk - removing".to_string(),
            ]
        );
    }

    #[test]
    fn cmd_str_quotes_every_word() {
        let v = vec!["/bin/x".to_string(), "a b".to_string()];
        assert_eq!(cmd_str(&v), "'/bin/x' 'a b'");
    }

    #[test]
    fn bare_name_is_searched_with_keepalived_warning() {
        let (r, logs) = prep(false, &["true"]);
        let r = r.expect("true is on PATH");
        assert!(r.argv[0].ends_with("/true"));
        assert!(logs[logs.len() - 1]
            .starts_with("WARNING - script `true` resolved by path search to `"));
    }

    #[test]
    fn missing_script_is_disabled() {
        let (r, logs) = prep(true, &["/nonexistent/chk.sh"]);
        assert!(r.is_none());
        assert!(logs.contains(
            &"Script /nonexistent/chk.sh cannot be accessed - No such file or directory"
                .to_string()
        ));
        assert!(logs.contains(&"Disabling track script chk since not found/accessible".to_string()));
    }

    #[test]
    fn world_writable_script_is_refused_with_script_security() {
        let dir = std::env::temp_dir().join(format!("hac-sec-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        let f = dir.join("chk.sh");
        fs::write(&f, "#!/bin/sh\nexit 0\n").expect("write");
        fs::set_permissions(&f, fs::Permissions::from_mode(0o777)).expect("chmod");
        let p = f.to_string_lossy().into_owned();
        let (r, logs) = prep(true, &[&p]);
        if geteuid().is_root() {
            assert!(r.is_none());
            assert!(logs.contains(&format!(
                "Unsafe permissions found for script '{p}' - disabling."
            )));
            assert!(logs.contains(&"Disabling track script chk due to insecure".to_string()));
            let (r, logs) = prep(false, &[&p]);
            assert!(r.is_some());
            assert!(logs.contains(&format!("Unsafe permissions found for script '{p}'.")));
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
