//! Bad input never panics: random bytes and mutated real configurations go through the
//! whole reader (words, sections, checks).

use std::collections::BTreeMap;
use std::io::Write as _;

use haproxy_conf::host::AnyAccounts;
use haproxy_conf::lexer::{split_line, Pseudo};
use haproxy_conf::{LoadOptions, NoResolver};
use proptest::prelude::*;

const CORPUS: &[&str] = &[
    include_str!("../../../fixtures/seeds/000/haproxy.cfg"),
    include_str!("../../../fixtures/seeds/001/haproxy.cfg"),
    include_str!("../../../fixtures/seeds/002/haproxy.cfg"),
    include_str!("../../../fixtures/seeds/004/haproxy.cfg"),
];

fn load_bytes(bytes: &[u8]) {
    let dir = std::env::temp_dir().join(format!("haproxy-conf-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!(
        "{:x}.cfg",
        bytes.len() ^ bytes.iter().map(|&b| b as usize).sum::<usize>()
    ));
    let mut f = std::fs::File::create(&path).expect("temp file");
    f.write_all(bytes).expect("write");
    let env: BTreeMap<String, String> = [("HOST".to_string(), "10.0.0.1".to_string())].into();
    let options = LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &NoResolver,
        accounts: &AnyAccounts,
        host_files: true,
    };
    let _ = haproxy_conf::load(std::slice::from_ref(&path), &options);
    let _ = std::fs::remove_file(path);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn words_never_panic(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let p = Pseudo { file: "f", line: 1, section: "s" };
        let _ = split_line(&line, &BTreeMap::<String, String>::new(), p);
    }

    #[test]
    fn random_configs_never_panic(text in "[ -~\t\n]{0,400}") {
        load_bytes(text.as_bytes());
    }

    #[test]
    fn mutated_seeds_never_panic(
        which in 0..CORPUS.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
    ) {
        let mut bytes = CORPUS[which].as_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len().max(1));
            if i < bytes.len() {
                bytes[i] = byte;
            }
        }
        load_bytes(&bytes);
    }

    #[test]
    fn keyword_soup_never_panics(words in proptest::collection::vec(prop::sample::select(vec![
        "global", "defaults", "frontend", "backend", "listen", "fe", "be", "bind", ":80", "*:8000-8010",
        "server", "s1", "1.2.3.4:80", "check", "inter", "rise", "0", "weight", "300", "balance",
        "uri", "hdr(", "acl", "a", "path_beg", "-i", "-m", "{", "}", "if", "unless", "!", "||",
        "use_backend", "default_backend", "http-request", "deny", "set-header", "%[src", "stats",
        "auth", "timeout", "client", "5x", "option", "httpchk", "forwardfor", "except", "no", ".if",
        ".endif", ".else", "defined(X)", "\"${HOST}\"", "'q'", "\\x4", "userlist", "user", "group",
        "peers", "peer", "errorfile", "503", "/nonexistent", "mode", "http", "tcp", "\n", "\n", "\n",
    ]), 0..120)) {
        load_bytes(words.join(" ").as_bytes());
    }
}
