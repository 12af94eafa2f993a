//! HAProxy's "did you mean" against the real haproxy 2.6.12: 547 misspellings were typed
//! into the real binary (data/did-you-mean-cases.tsv, made by data/scripts/) and its hint
//! recorded; our fingerprint distance over HAProxy's candidate lists, in its registration
//! order (data/did-you-mean.tsv, read from the running binary), must give the same hint.

use haproxy_conf::suggest::best_match;

const LISTS: &str = include_str!("../data/did-you-mean.tsv");
const CASES: &str = include_str!("../data/did-you-mean-cases.tsv");

fn list(name: &str) -> Vec<&'static str> {
    let mut rows: Vec<(usize, &str)> = LISTS
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.first() == Some(&name)).then(|| (f[1].parse().unwrap_or(usize::MAX), f[2]))
        })
        .collect();
    rows.sort_by_key(|(order, _)| *order);
    rows.into_iter().map(|(_, c)| c).collect()
}

#[test]
fn hints_match_the_real_haproxy() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in CASES.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (typed, expected, list_name) = (
            f[1],
            f.get(2).copied().unwrap_or(""),
            f.get(3).copied().unwrap_or(""),
        );
        // Action lists use prefix candidates with a different threshold; keyword and
        // option lists are what the parser's messages use.
        if !matches!(
            list_name,
            "global" | "listen" | "option" | "bind" | "server"
        ) {
            continue;
        }
        let candidates = list(list_name);
        assert!(!candidates.is_empty(), "no list {list_name}");
        let got = best_match(typed, candidates.iter().copied()).unwrap_or("");
        checked += 1;
        if got != expected {
            wrong.push(format!(
                "{list_name}: '{typed}': haproxy '{expected}', ours '{got}'"
            ));
        }
    }
    assert!(checked > 400, "only {checked} cases");
    assert!(
        wrong.is_empty(),
        "{} of {checked} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
