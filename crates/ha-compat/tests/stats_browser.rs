//! The stats page as a person sees it: Debian's chromium renders the HTML page of the
//! real HAProxy 2.6.12 and of ha-compat (invoked as `haproxy -db -f FILE`, a symlink to
//! the test's binary), one after the other, each in a network namespace `hashot-PID-N`
//! the test creates (loopback only, deleted by a drop guard, also on panic).
//!
//! The configuration has a `listen stats` page on 127.0.0.1:8404, a frontend, and a
//! backend whose `option httpchk` finds two servers answering 200 (the test's own HTTP
//! listeners), one refusing (nothing listens) and a backup answering: the page shows
//! every row colour a healthy farm with one dead server has. Once the checks have settled
//! (the `;csv` export shows the expected UP/DOWN on two polls 600 ms apart), chromium
//! takes a 1400x1200 screenshot and dumps the DOM it built.
//!
//! What must match, tolerating counters, times and check texts that differ:
//! - the screenshot: for each background colour of HAProxy's CSS (header rows, frontend
//!   and backend rows, each server state, the proxy name cells, the legend swatches),
//!   the number of pixels of exactly that colour within [`PIXEL_TOLERANCE`] of the
//!   reference's, and the horizontal bands it forms (consecutive pixel rows holding a
//!   run of at least [`BAND_MIN_RUN`] of it) at the same places within [`BAND_SLACK_PX`]; the
//!   image is not blank (the reference's colours are all there, and the same size);
//! - the DOM after rendering: the same proxy tables (`table.tbl`, by name), in each the
//!   same rows with the same classes, cells and column spans, the same row names and
//!   the same state words in the Status column (their age masked).
//!
//! The screenshots are kept in `<target>/compat/stats-browser/{reference,ours}.png` for
//! a person to compare (the test prints the paths).
//!
//! Needs root, haproxy and chromium (`scripts/test.sh` installs both); skipped with a
//! message without root or haproxy, failed when chromium is missing.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{can_run, sleep_ms, Daemon, Ns, HAPROXY};

const CHROMIUM: &str = "/usr/bin/chromium";
const STATS_URL: &str = "http://127.0.0.1:8404/stats";

const CFG: &str = "\
global
    nbthread 1
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen stats
    bind 127.0.0.1:8404
    stats enable
    stats uri /stats
frontend fe
    bind 127.0.0.1:8080
    default_backend web
backend web
    option httpchk GET /health
    server up1 127.0.0.1:9001 check inter 200
    server up2 127.0.0.1:9002 check inter 200
    server down3 127.0.0.1:9003 check inter 200
    server bak4 127.0.0.1:9004 check inter 200 backup
";

/// `(proxy, row, status)` the `;csv` export must show before the page is shot.
const SETTLED: &[(&str, &str, &str)] = &[
    ("web", "up1", "UP"),
    ("web", "up2", "UP"),
    ("web", "down3", "DOWN"),
    ("web", "bak4", "UP"),
    ("web", "BACKEND", "UP"),
];

/// How long the checks may take to settle, and chromium to start and render (a loaded
/// 2-core CI machine): only spent when something is wrong.
const PATIENCE: Duration = Duration::from_secs(30);

/// The background colours of HAProxy's stats CSS (`stats_head.html`, light scheme) the
/// page shows, each with where it appears.
const PALETTE: &[(&str, [u8; 3])] = &[
    ("titre (table headers)", [0x20, 0xd0, 0xd0]),
    ("frontend / backend rows, h3", [0xe8, 0xe8, 0xd0]),
    ("active_up", [0xc0, 0xff, 0xc0]),
    ("active_down / backup_down", [0xff, 0x90, 0x90]),
    ("backup_up", [0xb0, 0xd0, 0xff]),
    ("th.pxname", [0xb0, 0x00, 0x40]),
    ("active_going_up (legend)", [0xff, 0xd0, 0x20]),
    ("active_going_down (legend)", [0xff, 0xff, 0xa0]),
    ("backup_going_up (legend)", [0xff, 0x80, 0xff]),
    ("backup_going_down (legend)", [0xc0, 0x60, 0xff]),
    ("maintain (legend)", [0xc0, 0x78, 0x20]),
    ("active_nolb / draining (legend)", [0x20, 0xa0, 0xff]),
    ("no_check (legend)", [0xe0, 0xe0, 0xe0]),
];

/// How far a colour's pixel count may be from the reference's: texts of other widths
/// (counters, times, check results) cover a little more or less of a row.
const PIXEL_TOLERANCE: f64 = 0.15;

/// A pixel row belongs to a colour's band when it holds a run of at least this many
/// consecutive pixels of it (a legend swatch is 7 px wide, a table row far wider; the
/// scattered pixels of glyph edges never make one).
const BAND_MIN_RUN: usize = 5;

/// How far a band's top or bottom may be from the reference's.
const BAND_SLACK_PX: usize = 3;

/// A server on 127.0.0.1:`port` in the namespace answering each request
/// `HTTP/1.0 200 OK` and closing, until dropped.
struct HttpOk {
    running: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpOk {
    fn start(ns: &Ns, port: u16) -> HttpOk {
        let running = Arc::new(AtomicBool::new(true));
        let flag = running.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = ns.spawn(move || {
            let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
            listener.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            while flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut head = Vec::new();
                        let mut buf = [0u8; 512];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut buf) {
                                Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                                _ => break,
                            }
                        }
                        // The checker may reset the connection as soon as it has the
                        // status line: errors here are the peer's business.
                        let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    }
                    Err(_) => sleep_ms(5),
                }
            }
        });
        ready_rx.recv().unwrap();
        HttpOk {
            running,
            thread: Some(thread),
        }
    }
}

impl Drop for HttpOk {
    fn drop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `GET path` on the stats port from inside the namespace: the body, or "" while
/// nothing answers.
fn fetch(ns: &Ns, path: &'static str) -> String {
    ns.spawn(move || {
        let Ok(mut s) = TcpStream::connect("127.0.0.1:8404") else {
            return String::new();
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        if s.write_all(req.as_bytes()).is_err() {
            return String::new();
        }
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let text = String::from_utf8_lossy(&got).into_owned();
        text.split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default()
    })
    .join()
    .unwrap()
}

/// `(proxy, row) -> status` of the `;csv` export.
fn csv_states(csv: &str) -> BTreeMap<(String, String), String> {
    csv.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() > 17).then(|| ((f[0].to_string(), f[1].to_string()), f[17].to_string()))
        })
        .collect()
}

fn settled(csv: &str) -> bool {
    let states = csv_states(csv);
    SETTLED.iter().all(|(px, sv, want)| {
        states
            .get(&(px.to_string(), sv.to_string()))
            .map(String::as_str)
            == Some(*want)
    })
}

/// Runs chromium headless in the namespace with `args` and the page's URL; its stdout.
/// Killed with its whole process group after [`PATIENCE`].
fn chromium(ns: &Ns, dir: &Path, args: &[&str]) -> String {
    let home = dir.join("chromium-home");
    std::fs::create_dir_all(&home).unwrap();
    let stdout = dir.join("chromium.out");
    let stderr = dir.join("chromium.err");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.0, CHROMIUM])
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=1400,1200",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join("chromium-profile").display()
        ))
        .args(args)
        .arg(STATS_URL)
        .env("HOME", &home)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > PATIENCE {
            let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            break None;
        }
        sleep_ms(50);
    };
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "chromium {args:?}: {status:?}, stderr:\n{err}"
    );
    std::fs::read_to_string(&stdout).unwrap()
}

/// What the browser showed for one daemon.
struct Shot {
    png: PathBuf,
    dom: String,
}

fn shoot(program: &Path, dir: &Path, name: &str) -> Shot {
    let ns = Ns::new("hashot");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let webs = [9001, 9002, 9004].map(|port| HttpOk::start(&ns, port));
    let log = dir.join(format!("{name}.log"));
    let daemon = Daemon::haproxy_db(
        &ns,
        program,
        &cfg,
        std::fs::File::create(&log).unwrap().into(),
        std::fs::File::create(dir.join(format!("{name}.err")))
            .unwrap()
            .into(),
    );
    // Settled: the expected states on two polls 600 ms (3 check intervals) apart.
    let start = Instant::now();
    let mut csv = String::new();
    let mut seen = false;
    while start.elapsed() < PATIENCE {
        csv = fetch(&ns, "/stats;csv");
        if settled(&csv) {
            if seen {
                break;
            }
            seen = true;
            sleep_ms(600);
        } else {
            seen = false;
            sleep_ms(100);
        }
    }
    assert!(settled(&csv), "{name}: the checks did not settle:\n{csv}");
    let png = dir.join(format!("{name}.png"));
    chromium(
        &ns,
        dir,
        &[format!("--screenshot={}", png.display()).as_str()],
    );
    let dom = chromium(&ns, dir, &["--dump-dom"]);
    drop(daemon);
    drop(webs);
    Shot { png, dom }
}

/// An RGB image.
struct Image {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Image {
    fn load(path: &Path) -> Image {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.bit_depth, png::BitDepth::Eight, "{path:?}");
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("{path:?}: colour type {other:?}"),
        };
        let (width, height) = (info.width as usize, info.height as usize);
        let mut rgb = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            let line = &buf[y * info.line_size..][..width * channels];
            for px in line.chunks(channels) {
                rgb.extend_from_slice(&px[..3]);
            }
        }
        Image { width, height, rgb }
    }

    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Per pixel row, how many pixels are exactly `colour`, and the longest run of them.
    fn row_counts(&self, colour: [u8; 3]) -> Vec<(usize, usize)> {
        (0..self.height)
            .map(|y| {
                let (mut count, mut run, mut longest) = (0, 0, 0);
                for x in 0..self.width {
                    if self.pixel(x, y) == colour {
                        count += 1;
                        run += 1;
                        longest = longest.max(run);
                    } else {
                        run = 0;
                    }
                }
                (count, longest)
            })
            .collect()
    }

    /// Pixels that are not white.
    fn inked(&self) -> usize {
        self.rgb.chunks(3).filter(|p| p != &[255, 255, 255]).count()
    }
}

/// What the screenshot shows of one colour: its pixel count and its bands
/// `(first y, last y)`.
#[derive(Debug)]
struct ColourUse {
    pixels: usize,
    bands: Vec<(usize, usize)>,
}

fn colour_use(image: &Image, colour: [u8; 3]) -> ColourUse {
    let rows = image.row_counts(colour);
    let mut bands: Vec<(usize, usize)> = Vec::new();
    for (y, (_, run)) in rows.iter().enumerate() {
        if *run < BAND_MIN_RUN {
            continue;
        }
        match bands.last_mut() {
            Some((_, last)) if *last + 1 == y => *last = y,
            _ => bands.push((y, y)),
        }
    }
    ColourUse {
        pixels: rows.iter().map(|(count, _)| count).sum(),
        bands,
    }
}

/// One `<tr>` of a proxy table as the browser built it.
#[derive(Debug, PartialEq)]
struct Row {
    class: String,
    /// Visible text of each cell (tooltips left out) and its column span.
    cells: Vec<(String, usize)>,
}

/// The `table.tbl`s of one proxy: its name and rows.
#[derive(Debug, PartialEq)]
struct ProxyTable {
    name: String,
    rows: Vec<Row>,
}

/// The value of attribute `name` in the tag text `tag` (`<td class="ac" colspan="3">`).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[at..].split('"').next()
}

/// The proxy tables of chromium's `--dump-dom` (its serialisation: lower-case tags,
/// quoted attributes). Hidden tooltips (`div.tips`, with their nested tables) are
/// skipped.
fn proxy_tables(dom: &str) -> Vec<ProxyTable> {
    let mut tables: Vec<ProxyTable> = Vec::new();
    let mut in_tbl = false;
    let mut tips_divs = 0usize; // open <div>s since a div.tips opened (0: outside)
    let mut rest = dom;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        let Some(gt) = rest[lt..].find('>') else {
            break;
        };
        let tag = &rest[lt..lt + gt + 1];
        rest = &rest[lt + gt + 1..];
        if tips_divs > 0 {
            if tag.starts_with("<div") {
                tips_divs += 1;
            } else if tag == "</div>" {
                tips_divs -= 1;
            }
            continue;
        }
        if in_tbl {
            if let Some(cell) = tables
                .last_mut()
                .and_then(|t| t.rows.last_mut())
                .and_then(|r| r.cells.last_mut())
            {
                cell.0.push_str(&text.replace("&nbsp;", " "));
            }
        }
        let name = tag
            .trim_start_matches(['<', '/'])
            .split([' ', '>'])
            .next()
            .unwrap_or("");
        match (name, tag.starts_with("</")) {
            ("div", false) if attr(tag, "class") == Some("tips") => tips_divs = 1,
            ("table", false) if attr(tag, "class") == Some("tbl") => {
                in_tbl = true;
                tables.push(ProxyTable {
                    name: String::new(),
                    rows: Vec::new(),
                });
            }
            ("table", true) => in_tbl = false,
            ("tr", false) if in_tbl => tables.last_mut().unwrap().rows.push(Row {
                class: attr(tag, "class").unwrap_or("").to_string(),
                cells: Vec::new(),
            }),
            ("td" | "th", false) if in_tbl => {
                let span = attr(tag, "colspan").map_or(1, |s| s.parse().unwrap());
                let table = tables.last_mut().unwrap();
                if attr(tag, "class") == Some("pxname") && table.name.is_empty() {
                    table.name = "?".into(); // named by the anchor below
                }
                table
                    .rows
                    .last_mut()
                    .unwrap()
                    .cells
                    .push((String::new(), span));
            }
            ("a", false) if in_tbl => {
                let table = tables.last_mut().unwrap();
                if table.name == "?" {
                    table.name = attr(tag, "name").unwrap_or("").to_string();
                }
            }
            _ => {}
        }
    }
    // HAProxy writes each proxy as two tables: its name, then its header and data rows.
    let mut proxies: Vec<ProxyTable> = Vec::new();
    for table in tables {
        match proxies.last_mut() {
            Some(proxy) if table.name.is_empty() => proxy.rows.extend(table.rows),
            _ => proxies.push(table),
        }
    }
    for table in &mut proxies {
        for row in &mut table.rows {
            for cell in &mut row.cells {
                cell.0 = cell.0.split_whitespace().collect::<Vec<_>>().join(" ");
            }
        }
    }
    proxies
}

/// The Status column's state of every data row, by `(proxy, row name)`: its text
/// without the age (`4s UP` -> `UP`; `OPEN` stays).
fn status_words(tables: &[ProxyTable]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for table in tables {
        // The second header row names the columns after the row-name column (spanned
        // from the first header row).
        let Some(header) = table.rows.get(2) else {
            continue;
        };
        let Some(at) = header.cells.iter().position(|(t, _)| t == "Status") else {
            continue;
        };
        let column: usize = 1 + header.cells[..at].iter().map(|(_, s)| s).sum::<usize>();
        for row in table.rows.iter().skip(3) {
            let mut col = 0;
            for (text, span) in &row.cells {
                if col == column {
                    let words: Vec<&str> = text.split(' ').collect();
                    let age = |w: &str| {
                        !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || "dhms".contains(c))
                    };
                    let state = match words.as_slice() {
                        [first, rest @ ..] if age(first) && !rest.is_empty() => rest.join(" "),
                        _ => text.clone(),
                    };
                    let name = row
                        .cells
                        .first()
                        .map(|(t, _)| t.clone())
                        .unwrap_or_default();
                    out.push((table.name.clone(), name, state));
                }
                col += span;
            }
        }
    }
    out
}

/// A row without its values: class, name (first cell) and the cells' column spans.
type RowShape = (String, String, Vec<usize>);

/// The DOM's structure without its values: per proxy table, the shape of each row.
fn structure(tables: &[ProxyTable]) -> Vec<(String, Vec<RowShape>)> {
    tables
        .iter()
        .map(|t| {
            let rows = t
                .rows
                .iter()
                .map(|r| {
                    let name = r.cells.first().map(|(t, _)| t.clone()).unwrap_or_default();
                    (
                        r.class.clone(),
                        name,
                        r.cells.iter().map(|(_, s)| *s).collect(),
                    )
                })
                .collect();
            (t.name.clone(), rows)
        })
        .collect()
}

/// Cargo's target directory: the test binary's `ha-compat` is `<target>/<profile>/`.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_ha-compat"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

#[test]
fn stats_page_renders_like_haproxy_2_6_in_chromium() {
    if !can_run("stats_browser") {
        return;
    }
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: `apt-get install -y chromium` (scripts/test.sh does)"
    );
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("hashot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let reference = shoot(Path::new(HAPROXY), &dir, "reference");
    let ours = shoot(&link, &dir, "ours");

    let keep = target_dir().join("compat/stats-browser");
    std::fs::create_dir_all(&keep).unwrap();
    for (shot, name) in [(&reference, "reference"), (&ours, "ours")] {
        let path = keep.join(format!("{name}.png"));
        std::fs::copy(&shot.png, &path).unwrap();
        std::fs::write(keep.join(format!("{name}.dom.html")), &shot.dom).unwrap();
        eprintln!("stats_browser: {name} screenshot: {}", path.display());
    }
    let ref_image = Image::load(&reference.png);
    let our_image = Image::load(&ours.png);
    let _ = std::fs::remove_dir_all(&dir);
    // Every difference, the screenshot's and the DOM's, reported together.
    let mut failures = Vec::new();

    // The screenshot: not blank, every colour in the same amount and at the same places.
    assert_eq!(
        (our_image.width, our_image.height),
        (ref_image.width, ref_image.height)
    );
    let inked = ref_image.inked();
    assert!(
        inked > ref_image.width * ref_image.height / 20,
        "the reference's page is nearly blank ({inked} non-white pixels)"
    );
    let mut report = Vec::new();
    for (name, colour) in PALETTE {
        let want = colour_use(&ref_image, *colour);
        let got = colour_use(&our_image, *colour);
        report.push(format!(
            "{name}: reference {} px {:?}, ours {} px {:?}",
            want.pixels, want.bands, got.pixels, got.bands
        ));
        if want.bands.is_empty() {
            failures.push(format!(
                "the reference's screenshot has no {name}: {want:?}"
            ));
            continue;
        }
        let off = (got.pixels as f64 - want.pixels as f64).abs() / want.pixels as f64;
        if off > PIXEL_TOLERANCE {
            failures.push(format!(
                "{name}: {} px, the reference {} px ({:.0}% off)",
                got.pixels,
                want.pixels,
                off * 100.0
            ));
        }
        let near = |a: usize, b: usize| a.abs_diff(b) <= BAND_SLACK_PX;
        let same_bands = got.bands.len() == want.bands.len()
            && got
                .bands
                .iter()
                .zip(&want.bands)
                .all(|(g, w)| near(g.0, w.0) && near(g.1, w.1));
        if !same_bands {
            failures.push(format!(
                "{name}: bands {:?}, the reference {:?}",
                got.bands, want.bands
            ));
        }
    }
    eprintln!("stats_browser: colours\n  {}", report.join("\n  "));

    // The DOM: the same tables, rows, classes, spans, names and states.
    let ref_tables = proxy_tables(&reference.dom);
    let our_tables = proxy_tables(&ours.dom);
    let names: Vec<&str> = ref_tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["stats", "fe", "web"],
        "the reference's proxy tables"
    );
    let ref_classes: Vec<&str> = ref_tables[2]
        .rows
        .iter()
        .map(|r| r.class.as_str())
        .collect();
    assert_eq!(
        ref_classes,
        [
            "titre",
            "titre",
            "titre",
            "active_up",
            "active_up",
            "active_down",
            "backup_up",
            "backend"
        ],
        "the reference's rows of `web`"
    );
    let (want, got) = (structure(&ref_tables), structure(&our_tables));
    if got.len() != want.len() {
        failures.push(format!(
            "proxy tables: ours {:?}, the reference {names:?}",
            got.iter().map(|(n, _)| n).collect::<Vec<_>>()
        ));
    }
    for (w, g) in want.iter().zip(&got) {
        if w != g {
            failures.push(format!(
                "table {}: ours (class, name, spans)\n{:?}\nthe reference\n{:?}",
                w.0, g, w
            ));
        }
    }
    let ref_states = status_words(&ref_tables);
    eprintln!("stats_browser: reference states {ref_states:?}");
    assert!(ref_states.len() >= 8, "{ref_states:?}");
    let our_states = status_words(&our_tables);
    if our_states != ref_states {
        failures.push(format!(
            "Status column: ours {our_states:?}, the reference {ref_states:?}"
        ));
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "stats_browser: done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
