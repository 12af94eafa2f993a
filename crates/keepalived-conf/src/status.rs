//! keepalived's classes of configuration error and the `-t` exit status they give.
//!
//! keepalived records the highest `config_err_t` reported (the enum's order in
//! `lib/parser.h`, where the "cannot run" classes come first, so any ordinary warning
//! outranks a missing interface, and the script-security error outranks everything) and
//! maps it to the exit status in `config_test_exit()`. Every diagnostic keepalived itself would
//! report carries its class as the diagnostic's `code`; ha-compat's own remarks carry none
//! and never change the status.

use conf_diag::Diagnostics;

/// `config_err_t` of keepalived 2.2.7, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConfigErr {
    FileNotFound,
    BadIf,
    Fatal,
    MultipleFiles,
    UnknownKeyword,
    UnexpectedBob,
    MissingBob,
    UnexpectedEob,
    MissingEob,
    UnmatchedQuote,
    MissingParameter,
    InvalidNumber,
    GeneralError,
    Warning,
    Deprecated,
    SecurityError,
}

impl ConfigErr {
    pub const ALL: [ConfigErr; 16] = [
        ConfigErr::FileNotFound,
        ConfigErr::BadIf,
        ConfigErr::Fatal,
        ConfigErr::MultipleFiles,
        ConfigErr::UnknownKeyword,
        ConfigErr::UnexpectedBob,
        ConfigErr::MissingBob,
        ConfigErr::UnexpectedEob,
        ConfigErr::MissingEob,
        ConfigErr::UnmatchedQuote,
        ConfigErr::MissingParameter,
        ConfigErr::InvalidNumber,
        ConfigErr::GeneralError,
        ConfigErr::Warning,
        ConfigErr::Deprecated,
        ConfigErr::SecurityError,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ConfigErr::FileNotFound => "CONFIG_FILE_NOT_FOUND",
            ConfigErr::BadIf => "CONFIG_BAD_IF",
            ConfigErr::Fatal => "CONFIG_FATAL",
            ConfigErr::MultipleFiles => "CONFIG_MULTIPLE_FILES",
            ConfigErr::UnknownKeyword => "CONFIG_UNKNOWN_KEYWORD",
            ConfigErr::UnexpectedBob => "CONFIG_UNEXPECTED_BOB",
            ConfigErr::MissingBob => "CONFIG_MISSING_BOB",
            ConfigErr::UnmatchedQuote => "CONFIG_UNMATCHED_QUOTE",
            ConfigErr::MissingEob => "CONFIG_MISSING_EOB",
            ConfigErr::UnexpectedEob => "CONFIG_UNEXPECTED_EOB",
            ConfigErr::MissingParameter => "CONFIG_MISSING_PARAMETER",
            ConfigErr::InvalidNumber => "CONFIG_INVALID_NUMBER",
            ConfigErr::GeneralError => "CONFIG_GENERAL_ERROR",
            ConfigErr::Warning => "CONFIG_WARNING",
            ConfigErr::Deprecated => "CONFIG_DEPRECATED",
            ConfigErr::SecurityError => "CONFIG_SECURITY_ERROR",
        }
    }

    pub fn from_code(code: &str) -> Option<ConfigErr> {
        ConfigErr::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// keepalived's exit statuses for `-t`.
pub mod exit {
    pub const OK: i32 = 0;
    /// A line missing its parameter stops keepalived at once (`null_strvec()`); 2.2.7's
    /// config-test child then exits 2 (measured, see fixtures/keepalived/REFERENCE.md).
    pub const STOPPED: i32 = 2;
    pub const CONFIG: i32 = 4;
    pub const CONFIG_TEST: i32 = 5;
    pub const CONFIG_TEST_SECURITY: i32 = 6;
}

/// The status `keepalived -t` exits with for these diagnostics.
pub fn config_test_exit(diags: &Diagnostics) -> i32 {
    if diags.iter().any(|d| d.code == Some(STOPPED_CODE)) {
        return exit::STOPPED;
    }
    let highest = diags
        .iter()
        .filter_map(|d| match d.code {
            Some(crate::build::REFUSED_CODE) => Some(ConfigErr::GeneralError),
            Some(code) => ConfigErr::from_code(code),
            None => None,
        })
        .max();
    match highest {
        None => exit::OK,
        Some(ConfigErr::FileNotFound | ConfigErr::BadIf | ConfigErr::Fatal) => exit::CONFIG,
        Some(ConfigErr::SecurityError) => exit::CONFIG_TEST_SECURITY,
        Some(_) => exit::CONFIG_TEST,
    }
}

/// Code of an `include` that matched no file: printed, not counted, except that with `-e`
/// (`--all-config`) keepalived exits 6 (`KEEPALIVED_EXIT_NO_CONFIG`).
pub const INCLUDE_MISSING_CODE: &str = "INCLUDE_MISSING";

/// keepalived's exit when `-e` is given and an include matched nothing.
pub const EXIT_NO_CONFIG: i32 = 6;

/// Code of a diagnostic after which keepalived stops reading (missing parameter).
pub const STOPPED_CODE: &str = "CONFIG_MISSING_PARAMETER_STOP";

#[cfg(test)]
mod tests {
    use super::*;
    use conf_diag::{Diagnostic, FileId, Span};

    fn with(codes: &[&'static str]) -> Diagnostics {
        let mut d = Diagnostics::new();
        for c in codes {
            d.push(Diagnostic::warning(Span::line(FileId(0), 1), "x").with_code(c));
        }
        d
    }

    #[test]
    fn highest_enum_value_wins_not_severity() {
        // The security error outranks everything (seed 003 node1: errors and still 6).
        assert_eq!(
            config_test_exit(&with(&["CONFIG_WARNING", "CONFIG_SECURITY_ERROR"])),
            6
        );
        assert_eq!(
            config_test_exit(&with(&["CONFIG_SECURITY_ERROR", "CONFIG_WARNING"])),
            6
        );
        assert_eq!(config_test_exit(&with(&["CONFIG_SECURITY_ERROR"])), 6);
        assert_eq!(config_test_exit(&with(&["CONFIG_BAD_IF"])), 4);
        assert_eq!(
            config_test_exit(&with(&["CONFIG_BAD_IF", "CONFIG_GENERAL_ERROR"])),
            5
        );
        assert_eq!(config_test_exit(&with(&[])), 0);
    }

    #[test]
    fn our_own_remarks_do_not_change_the_status() {
        let mut d = Diagnostics::new();
        d.push(Diagnostic::warning(
            Span::line(FileId(0), 1),
            "ha-compat says",
        ));
        assert_eq!(config_test_exit(&d), 0);
    }
}
