//! HAProxy's "did you mean 'X' maybe ?" hints: `make_word_fingerprint()` (counts of
//! character-class transitions) and `word_fingerprint_distance()` from src/tools.c, and
//! `cfg_find_best_match()`'s rule that the first strictly closer candidate wins and that a
//! candidate more than twice as far as either word is long is no hint at all.

/// A word's transition counts, indexed `32 * from + to`.
struct Fingerprint([u8; 1024]);

fn fingerprint(word: &str) -> Fingerprint {
    let mut fp = [0u8; 1024];
    let mut from = 28usize;
    for &b in word.as_bytes() {
        let c = b.to_ascii_lowercase();
        let to = match c {
            b'a'..=b'z' => usize::from(c - b'a') + 1,
            b'0'..=b'9' => 27,
            _ => 28,
        };
        fp[to] = 1;
        fp[32 * from + to] = fp[32 * from + to].wrapping_add(1);
        from = to;
    }
    let to = 28;
    fp[32 * from + to] = fp[32 * from + to].wrapping_add(1);
    Fingerprint(fp)
}

fn distance(a: &Fingerprint, b: &Fingerprint) -> usize {
    a.0.iter()
        .zip(b.0.iter())
        .map(|(x, y)| usize::from(x.abs_diff(*y)))
        .sum()
}

/// The closest candidate to `word`, in candidate order (ties keep the first), or `None`
/// when even the best is too far.
pub fn best_match<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let target = fingerprint(word);
    let mut best: Option<(&'a str, usize)> = None;
    for candidate in candidates {
        let d = distance(&target, &fingerprint(candidate));
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((candidate, d));
        }
    }
    let (candidate, d) = best?;
    if d > 2 * word.len() || d > 2 * candidate.len() {
        return None;
    }
    Some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_words_are_found() {
        let list = ["default_backend", "use_backend", "balance", "bind"];
        assert_eq!(best_match("defualt_backend", list), Some("default_backend"));
        assert_eq!(best_match("bnid", list), Some("bind"));
        assert_eq!(best_match("zzzzzzzzzzzzzzzz", list), None);
    }
}
