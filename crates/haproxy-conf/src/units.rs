//! HAProxy's number and time syntax: `parse_time_err()` (src/tools.c) with its units
//! (`us`, `ms`, `s`, `m`, `h`, `d`), overflow and underflow rules, and the tolerant
//! trailing-garbage warning; `atol()`-style integers.

use std::time::Duration;

/// The unit a bare number means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Micros,
    Millis,
    Seconds,
}

/// Why a time did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    /// The first character that is not part of a number+unit (byte offset, char).
    Unexpected(usize, char),
    /// `>= 2^31` in the target unit.
    Overflow,
    /// A non-zero value that rounds to 0 in the target unit.
    Underflow,
}

/// A parsed time, in the caller's unit, plus HAProxy's "unexpected character after the
/// timer value" warning when the unit was followed by more text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTime {
    pub value: u32,
    pub trailing_warning: Option<String>,
}

/// `parse_time_err(text, &ret, unit)`.
pub fn parse_time(text: &str, unit: TimeUnit) -> Result<ParsedTime, TimeError> {
    let b = text.as_bytes();
    let first = b.first().copied().unwrap_or(0);
    if !first.is_ascii_digit() {
        return Err(TimeError::Unexpected(0, first as char));
    }
    let (mut omult, mut odiv): (u128, u128) = match unit {
        TimeUnit::Micros => (1_000_000, 1),
        TimeUnit::Millis => (1000, 1),
        TimeUnit::Seconds => (1, 1),
    };
    let mut i = 0;
    let mut value: u128 = 0;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        value = (value * 10 + u128::from(d - b'0')).min(u128::from(u64::MAX));
        i += 1;
    }
    let (mut imult, mut idiv): (u128, u128) = (1, 1);
    let mut warning = None;
    match b.get(i) {
        None => {
            imult = 1;
            omult = 1;
            idiv = 1;
            odiv = 1;
        }
        Some(&c) => {
            match c {
                b's' => {}
                b'u' if b.get(i + 1) == Some(&b's') => {
                    idiv = 1_000_000;
                    i += 1;
                }
                b'm' if b.get(i + 1) == Some(&b's') => {
                    idiv = 1000;
                    i += 1;
                }
                b'm' => imult = 60,
                b'h' => imult = 3600,
                b'd' => imult = 86400,
                _ => return Err(TimeError::Unexpected(i, char_at(text, i))),
            }
            i += 1;
            if i < b.len() {
                warning = Some(format!(
                    "unexpected character '{}' after the timer value '{text}', only \
                     (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. \
                     This will be reported as an error in next versions.",
                    char_at(text, i)
                ));
            }
        }
    }
    if omult % idiv == 0 {
        omult /= idiv;
        idiv = 1;
    }
    if idiv % omult == 0 {
        idiv /= omult;
        omult = 1;
    }
    if imult % odiv == 0 {
        imult /= odiv;
        odiv = 1;
    }
    if odiv % imult == 0 {
        odiv /= imult;
        imult = 1;
    }
    let result = (value * (imult * omult)).div_ceil(idiv * odiv);
    if result >= 0x8000_0000 {
        return Err(TimeError::Overflow);
    }
    if result == 0 && value != 0 {
        return Err(TimeError::Underflow);
    }
    Ok(ParsedTime {
        value: result as u32,
        trailing_warning: warning,
    })
}

fn char_at(text: &str, i: usize) -> char {
    text.as_bytes().get(i).map_or('\0', |&b| b as char)
}

/// A millisecond time as a Duration.
pub fn millis(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

/// C `atol()`: leading blanks, optional sign, digits; anything else stops; 0 when none.
pub fn atol(text: &str) -> i64 {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut v: i64 = 0;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
        i += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

/// `atol()` truncated to a C `int` as HAProxy stores most counts.
pub fn atoi(text: &str) -> i32 {
    atol(text) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Result<u32, TimeError> {
        parse_time(s, TimeUnit::Millis).map(|p| p.value)
    }

    #[test]
    fn units() {
        assert_eq!(ms("5000"), Ok(5000));
        assert_eq!(ms("5000ms"), Ok(5000));
        assert_eq!(ms("5s"), Ok(5000));
        assert_eq!(ms("2m"), Ok(120_000));
        assert_eq!(ms("1h"), Ok(3_600_000));
        assert_eq!(ms("1d"), Ok(86_400_000));
        assert_eq!(ms("1500us"), Ok(2));
        assert_eq!(ms("0"), Ok(0));
    }

    #[test]
    fn errors() {
        assert_eq!(ms("5x"), Err(TimeError::Unexpected(1, 'x')));
        assert_eq!(ms("x"), Err(TimeError::Unexpected(0, 'x')));
        assert_eq!(ms("25d"), Err(TimeError::Overflow));
        assert_eq!(ms("1us"), Ok(1));
        assert_eq!(parse_time("1ms", TimeUnit::Seconds).map(|p| p.value), Ok(1));
        assert!(parse_time("5sx", TimeUnit::Millis).is_ok_and(|p| p.trailing_warning.is_some()));
    }
}
