//! What the reader looks up on the machine: user and group names (`user`, `group` in
//! global, as HAProxy calls getpwnam()/getgrnam() while parsing). Behind a trait so a
//! file meant for another machine can be checked, and tests need no accounts.

/// User and group lookups.
pub trait Accounts {
    fn user_id(&self, name: &str) -> Option<u32>;
    fn group_id(&self, name: &str) -> Option<u32>;
}

/// This machine's /etc/passwd and /etc/group (what getpwnam()/getgrnam() read with the
/// usual `files` NSS source).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemAccounts;

fn lookup(path: &str, name: &str) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(2).and_then(|id| id.parse().ok()))
}

impl Accounts for SystemAccounts {
    fn user_id(&self, name: &str) -> Option<u32> {
        lookup("/etc/passwd", name)
    }
    fn group_id(&self, name: &str) -> Option<u32> {
        lookup("/etc/group", name)
    }
}

/// Every name exists (id 0 is never returned for a name: 65534 stands in).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyAccounts;

impl Accounts for AnyAccounts {
    fn user_id(&self, _name: &str) -> Option<u32> {
        Some(65534)
    }
    fn group_id(&self, _name: &str) -> Option<u32> {
        Some(65534)
    }
}
