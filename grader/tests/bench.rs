//! `grader bench`: a correct server delivers every line and passes, a
//! lossy one fails with status 1, a bench that cannot run says why with
//! status 2, within bounded time.
//!
//! Also the generator of `grader/BENCH.md` (`make bench`, ignored in the
//! normal run): the reference server against the other servers of
//! [`SERVERS`], measured in one run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const GRADER: &str = env!("CARGO_BIN_EXE_grader");

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bench_fixture(name: &str) -> PathBuf {
    manifest_dir().join("tests/bench_fixtures").join(name)
}

/// What one `grader bench` run gave.
struct Run {
    args: Vec<String>,
    output: Output,
    seconds: f64,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything about the run, for a failed assertion.
    fn describe(&self) -> String {
        format!(
            "grader bench {}\nstatus: {:?} after {:.1} s\nstdout:\n{}\nstderr:\n{}",
            self.args.join(" "),
            self.output.status,
            self.seconds,
            String::from_utf8_lossy(&self.output.stdout),
            self.stderr()
        )
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|err| panic!("not one JSON object ({err}):\n{}", self.describe()))
    }
}

/// Runs `grader bench ARGS`, killed if it takes longer than `limit`.
fn bench(args: &[&str], limit: Duration) -> Run {
    bench_with(Path::new(GRADER), args, &[], limit)
}

/// Runs `GRADER bench ARGS` with a given grader executable.
fn bench_with(grader: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    let started = Instant::now();
    let mut command = assert_cmd::Command::new(grader);
    // The grader passes its environment on to the server it starts.
    command
        .arg("bench")
        .args(&args)
        .envs(env.iter().copied())
        .timeout(limit);
    let output = command.output().expect("run the grader");
    Run {
        args,
        output,
        seconds: started.elapsed().as_secs_f64(),
    }
}

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn the_reference_server_delivers_every_line_once_and_in_order() {
    let run = bench(
        &[
            "--server",
            GRADER,
            "--clients",
            "10",
            "--senders",
            "3",
            "--messages",
            "200",
            "--format",
            "json",
            "--",
            "reference-server",
        ],
        LIMIT,
    );
    let json = run.json();
    let why = run.describe();
    assert_eq!(run.code(), Some(0), "{why}");
    // Each of 3 senders' 200 lines reaches the 9 other clients.
    assert_eq!(json["deliveries"], 3 * 200 * 9, "{why}");
    assert_eq!(json["expected_deliveries"], 3 * 200 * 9, "{why}");
    for field in ["lost", "missing", "duplicated", "out_of_order", "corrupt"] {
        assert_eq!(json[field], 0, "{field}: {why}");
    }
    assert_eq!(json["disconnected"], 0, "{why}");
    assert_eq!(json["ended"], "complete", "{why}");
    let number = |field: &str| {
        json[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{field} is not a number: {why}"))
    };
    assert!(number("deliveries_per_sec") > 0.0, "{why}");
    assert!(number("p50_ms") <= number("p99_ms"), "{why}");
    assert!(number("p99_ms") <= number("max_ms"), "{why}");
    assert!(number("server_peak_rss_kib") > 0.0, "{why}");
    assert!(number("server_cpu_s") >= 0.0, "{why}");
    assert!(number("wall_s") > 0.0, "{why}");
    for field in ["clients", "senders", "messages", "size"] {
        assert!(json[field].is_number(), "{field}: {why}");
    }
}

#[test]
fn a_paced_run_sends_at_the_rate_asked_and_loses_nothing() {
    let run = bench(
        &[
            "--reference",
            "--clients",
            "5",
            "--senders",
            "2",
            "--messages",
            "100",
            "--rate",
            "1000",
            "--format",
            "json",
        ],
        LIMIT,
    );
    let json = run.json();
    let why = run.describe();
    assert_eq!(run.code(), Some(0), "{why}");
    assert_eq!(json["deliveries"], 2 * 100 * 4, "{why}");
    assert_eq!(json["lost"], 0, "{why}");
    assert_eq!(json["rate"], 1000, "{why}");
    // 100 lines at 1000 a second: the last is due after 99 ms.
    let wall = json["wall_s"].as_f64().expect("wall_s");
    assert!(wall >= 0.099, "{why}");
}

#[test]
fn a_server_that_drops_lines_fails_with_status_1() {
    let lossy = bench_fixture("server_lossy.py");
    let run = bench(
        &[
            "--server",
            lossy.to_str().expect("a UTF-8 path"),
            "--clients",
            "10",
            "--senders",
            "3",
            "--messages",
            "200",
            "--format",
            "json",
        ],
        LIMIT,
    );
    let json = run.json();
    let why = run.describe();
    assert_eq!(run.code(), Some(1), "{why}");
    let lost = json["lost"].as_u64().expect("lost");
    // It drops every 100th of the 600 lines it forwards, each to 9 clients.
    assert_eq!(lost, 6 * 9, "{why}");
    assert_eq!(json["missing"], 6 * 9, "{why}");
    assert_eq!(
        json["deliveries"].as_u64().expect("deliveries") + lost,
        3 * 200 * 9,
        "{why}"
    );
}

#[test]
fn bad_arguments_exit_with_status_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--clients", "10"], "--server"),
        (&["--reference", "--clients", "1"], "at least 2 clients"),
        (&["--reference", "--senders", "0"], "--senders 0"),
        (
            &["--reference", "--clients", "3", "--senders", "4"],
            "--senders 4",
        ),
        (&["--reference", "--size", "10"], "--size 10"),
        (&["--reference", "--size", "5000"], "--size 5000"),
        (&["--reference", "--messages", "0"], "--messages 0"),
        (&["--reference", "--rate", "0"], "--rate"),
        (&["--reference", "--format", "xml"], "xml"),
        (
            &["--reference", "--idle", "100", "--senders", "3"],
            "--senders",
        ),
        (&["--reference", "--clients", "ten"], "ten"),
        (&["--reference", "--idle", "1000000000"], "hard limit"),
    ];
    for (args, said) in cases {
        let run = bench(args, Duration::from_secs(30));
        let why = run.describe();
        assert_eq!(run.code(), Some(2), "{why}");
        assert!(
            run.stderr().contains(said),
            "expected {said:?} in stderr: {why}"
        );
        assert!(run.output.stdout.is_empty(), "{why}");
    }
}

#[test]
fn a_server_that_never_says_it_is_ready_is_given_up_on_with_status_2() {
    let silent = bench_fixture("server_silent.py");
    let run = bench(
        &[
            "--server",
            silent.to_str().expect("a UTF-8 path"),
            "--ready-timeout",
            "2",
        ],
        Duration::from_secs(30),
    );
    let why = run.describe();
    assert_eq!(run.code(), Some(2), "{why}");
    assert!(run.stderr().contains("readiness line"), "{why}");
    assert!(run.seconds < 15.0, "it took {:.1} s: {why}", run.seconds);
}

#[test]
fn a_server_that_cannot_start_is_reported_with_status_2() {
    let run = bench(
        &["--server", "/nonexistent/server"],
        Duration::from_secs(30),
    );
    let why = run.describe();
    assert_eq!(run.code(), Some(2), "{why}");
    assert!(run.stderr().contains("could not start"), "{why}");
}

#[test]
fn idle_connections_are_held_and_the_server_still_serves() {
    let run = bench(&["--reference", "--idle", "200", "--format", "json"], LIMIT);
    let json = run.json();
    let why = run.describe();
    assert_eq!(run.code(), Some(0), "{why}");
    assert_eq!(json["mode"], "idle", "{why}");
    assert_eq!(json["connections"], 200, "{why}");
    assert_eq!(json["connected"], 200, "{why}");
    assert_eq!(json["served_line"], true, "{why}");
    assert!(json["server_rss_kib"].as_u64().expect("rss") > 0, "{why}");
    let nofile = &json["nofile"];
    assert!(
        nofile["soft"].as_u64() >= nofile["soft_before"].as_u64(),
        "{why}"
    );
    assert!(nofile["server"].as_u64().expect("server") >= 200, "{why}");
}

// ---------------------------------------------------------------------------
// BENCH.md

/// How the bench starts a server (it appends the port).
enum Start {
    /// The grader's own reference server, `grader reference-server ARGS`.
    Reference(&'static [&'static str]),
    /// An executable in this crate's folder.
    Executable(&'static str),
}

/// One server BENCH.md measures.
struct Measured {
    /// Its short name in the tables.
    name: &'static str,
    /// What it is, one line.
    about: &'static str,
    start: Start,
    /// Environment variables for the server (the grader passes its own on).
    env: &'static [(&'static str, &'static str)],
    /// The most idle connections to measure it with (each idle size of
    /// [`IDLE`] up to this one): every join goes to every client, so a slow
    /// server takes minutes at 10,000.
    max_idle: usize,
}

/// The servers BENCH.md compares, measured one after the other in one run,
/// the first being the one the others are compared with. To measure
/// another variant (the reference server without its write batching, say),
/// add an entry here.
const SERVERS: &[Measured] = &[
    Measured {
        name: "reference",
        about: "the reference solution, `grader reference-server` (solution/src/server.rs)",
        start: Start::Reference(&[]),
        env: &[],
        max_idle: 10_000,
    },
    Measured {
        name: "at-once",
        about: "the reference server writing after every event instead of once per round \
                (`CHAT_WRITE_AT_ONCE=1`, a reference-only switch): what batching the writes buys",
        start: Start::Reference(&[]),
        env: &[("CHAT_WRITE_AT_ONCE", "1")],
        max_idle: 2_000,
    },
    Measured {
        name: "python",
        about: "a straightforward Python `selectors` server (grader/tests/fixtures/server_ok.py)",
        start: Start::Executable("tests/fixtures/server_ok.py"),
        env: &[],
        // Python writes each join notice to each client with its own
        // send(): N²/2 of them take minutes beyond a few thousand clients.
        max_idle: 2_000,
    },
];

/// A throughput workload: its arguments to `grader bench`.
struct Workload {
    title: &'static str,
    about: &'static str,
    args: &'static [&'static str],
}

const WORKLOADS: &[Workload] = &[
    Workload {
        title: "Flood: as fast as the server takes the lines",
        about: "N=100 clients, K=10 of them send M=10,000 lines of 64 bytes each, writing while \
                their sockets take bytes (the defaults of `grader bench`). Latency here is mostly \
                time spent queued in socket buffers: the senders put their lines into the kernel \
                far faster than any server forwards them to 99 clients, so p50 is about half the \
                run and max about all of it. Deliveries per second is the figure to read.",
        args: &[],
    },
    Workload {
        title: "Paced: 1,000,000 deliveries per second offered",
        about: "N=100, K=10, 64-byte lines, each sender sending 1,010 lines a second (5,000 lines \
                each): 1,010 x 10 x 99 = 999,900 deliveries a second are offered. A line's latency \
                counts from the moment it was due, so a server that falls behind shows it.",
        args: &["--rate", "1010", "--messages", "5000"],
    },
];

/// Idle sizes: every server is measured at each size up to its `max_idle`.
const IDLE: &[usize] = &[2_000, 5_000, 10_000];

/// The longest one idle measurement may take (`--timeout`): a server that
/// has not let every client in by then is reported with how many it did.
const IDLE_TIMEOUT: &str = "300";

/// Throughput runs per server and workload; the table shows the median.
const RUNS: usize = 3;

impl Measured {
    /// Its arguments to `grader bench`, and how BENCH.md shows them.
    fn args(&self) -> (Vec<String>, String) {
        match self.start {
            Start::Reference(args) => {
                let mut all = vec!["--reference".to_owned()];
                let mut shown = "--reference".to_owned();
                if !args.is_empty() {
                    all.push("--".into());
                    all.extend(args.iter().map(|&a| a.to_owned()));
                    shown = format!("--reference -- {}", args.join(" "));
                }
                (all, shown)
            }
            Start::Executable(path) => {
                let full = manifest_dir().join(path);
                (
                    vec![
                        "--server".into(),
                        full.to_str().expect("a UTF-8 path").into(),
                    ],
                    format!("--server grader/{path}"),
                )
            }
        }
    }
}

/// Runs one measurement with JSON output (with `grader`, the report's own
/// copy of the grader); a run that could not run at all stops the report.
fn measure(grader: &Path, server: &Measured, extra: &[&str], limit: Duration) -> Value {
    let (mut args, _) = server.args();
    // Everything after `--` goes to the server: the bench's options first.
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let tail = args.split_off(split);
    args.extend(extra.iter().map(|&a| a.to_owned()));
    args.extend(["--format".to_owned(), "json".to_owned()]);
    args.extend(tail);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = bench_with(grader, &args, server.env, limit);
    eprintln!(
        "{:<10} {:<40} status {:?}, {:.1} s",
        server.name,
        extra.join(" "),
        run.code(),
        run.seconds
    );
    assert!(
        matches!(run.code(), Some(0 | 1)),
        "the bench could not run: {}",
        run.describe()
    );
    run.json()
}

fn f(value: &Value, field: &str) -> f64 {
    value[field].as_f64().unwrap_or(f64::NAN)
}

fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".to_owned(), |(_, m)| m.trim().to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|m| m.split_whitespace().next()?.parse::<f64>().ok())
        .map_or("unknown".to_owned(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    format!(
        "- CPU: {model}, {} cores (`nproc`)\n- memory: {memory}\n- kernel: {}\n- {}",
        command_output("nproc", &[]),
        command_output("uname", &["-sr"]),
        command_output("rustc", &["--version"]),
    )
}

/// The commit measured, and whether the servers' code differed from it.
fn source() -> String {
    let root = manifest_dir().parent().expect("the repository's root");
    let root = root.to_str().expect("a UTF-8 path");
    let commit = command_output("git", &["-C", root, "rev-parse", "--short", "HEAD"]);
    let changed = command_output(
        "git",
        &[
            "-C",
            root,
            "status",
            "--porcelain",
            "--",
            "solution",
            "grader/src",
        ],
    );
    if changed == "unknown" {
        format!("commit {commit}")
    } else {
        format!(
            "commit {commit}, with uncommitted changes in solution/ or grader/src (not reproducible)"
        )
    }
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The median run of `runs` by `field` (the middle one, so its other
/// figures are from that same run).
fn median_by<'a>(runs: &'a [Value], field: &str) -> &'a Value {
    let mut sorted: Vec<&Value> = runs.iter().collect();
    sorted.sort_by(|a, b| f(a, field).total_cmp(&f(b, field)));
    sorted[sorted.len() / 2]
}

fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 && value.is_finite() {
        format!("{:.2}x", value / base)
    } else {
        "-".into()
    }
}

/// The bench's own CPU time, marked when it had a whole core: then the
/// load generator, not the server, may be what limits the figures.
fn bench_cpu_cell(v: &Value) -> String {
    let (cpu, wall) = (f(v, "bench_cpu_s"), f(v, "wall_s"));
    if cpu > 0.9 * wall {
        format!("{cpu:.2} (bench-bound)")
    } else {
        format!("{cpu:.2}")
    }
}

/// How many idle clients got in, and why not all if not.
fn connected_cell(v: &Value) -> String {
    let connected = thousands(f(v, "connected"));
    match v["ended"].as_str() {
        Some("complete") => connected,
        Some(ended) => format!("{connected} ({ended})"),
        None => connected,
    }
}

/// Generates grader/BENCH.md: `make bench`.
#[test]
#[ignore = "a measurement of a few minutes: run it with `make bench`"]
fn bench_report() {
    if cfg!(debug_assertions) {
        panic!("measure a release build: `make bench` (cargo test --release ...)");
    }
    // Every measurement runs this copy: a build in the same target folder
    // during the report (cargo test, make soak) would otherwise swap the
    // reference server under it halfway through.
    let grader = std::env::temp_dir().join(format!("grader-bench-{}", std::process::id()));
    std::fs::copy(GRADER, &grader).expect("copy the grader for the report");
    let load_before = load_average();
    let started = Instant::now();
    let mut doc = String::new();
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let _ = writeln!(
        doc,
        "# `grader bench`: the reference chat server against other implementations\n\n\
         Generated by `make bench` ({date}); do not edit by hand. The generator is \
         `bench_report` in `grader/tests/bench.rs`: it runs `grader bench` (built with \
         `--release`) on each server below, one after the other, in one run.\n"
    );
    let _ = writeln!(doc, "## Servers\n");
    for server in SERVERS {
        let _ = writeln!(doc, "- **{}**: {}", server.name, server.about);
    }
    let _ = writeln!(doc, "- source: {}", source());
    let _ = writeln!(doc, "\n## Machine\n\n{}", machine());
    let _ = writeln!(
        doc,
        "- load average (1 min) when the run started: {load_before:.2}{}\n",
        if load_before > 0.5 {
            " (other work was running: the figures are noisier and lower than on a quiet machine)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        doc,
        "The bench's clients and the server share these cores. `bench CPU` is the load \
         generator's own CPU time: when it is close to `wall`, the bench had a whole core \
         and may be what limits the figure, not the server.\n"
    );

    for workload in WORKLOADS {
        // Interleaved (A B A B A B), so that a change in the machine's other
        // load hits every server alike.
        let mut runs: Vec<Vec<Value>> = SERVERS.iter().map(|_| Vec::new()).collect();
        for _ in 0..RUNS {
            for (i, server) in SERVERS.iter().enumerate() {
                runs[i].push(measure(
                    &grader,
                    server,
                    workload.args,
                    Duration::from_secs(600),
                ));
            }
        }
        let _ = writeln!(doc, "## {}\n\n{}\n", workload.title, workload.about);
        let _ = writeln!(
            doc,
            "Median of {RUNS} runs by deliveries per second (the other figures are from that \
             run; the range is over all runs).\n"
        );
        let _ = writeln!(
            doc,
            "| server | deliveries/s (range) | p50 ms | p99 ms | max ms | lost | server peak RSS \
             KiB | server CPU s | server CPU per M deliveries | bench CPU s | wall s |"
        );
        let _ = writeln!(doc, "|---|---|---|---|---|---|---|---|---|---|---|");
        let medians: Vec<&Value> = runs
            .iter()
            .map(|r| median_by(r, "deliveries_per_sec"))
            .collect();
        let per_million =
            |v: &Value| f(v, "server_cpu_s") / (f(v, "deliveries") / 1e6).max(f64::MIN_POSITIVE);
        for (i, server) in SERVERS.iter().enumerate() {
            let m = medians[i];
            let rates: Vec<f64> = runs[i].iter().map(|v| f(v, "deliveries_per_sec")).collect();
            let low = rates.iter().copied().fold(f64::INFINITY, f64::min);
            let high = rates.iter().copied().fold(0.0, f64::max);
            let lost: u64 = runs[i]
                .iter()
                .map(|v| v["lost"].as_u64().unwrap_or(0))
                .sum();
            let _ = writeln!(
                doc,
                "| {} | {} ({}-{}) | {:.2} | {:.2} | {:.2} | {} | {} | {:.2} | {:.3} s | {} | {:.2} |",
                server.name,
                thousands(f(m, "deliveries_per_sec")),
                thousands(low),
                thousands(high),
                f(m, "p50_ms"),
                f(m, "p99_ms"),
                f(m, "max_ms"),
                lost,
                thousands(f(m, "server_peak_rss_kib")),
                f(m, "server_cpu_s"),
                per_million(m),
                bench_cpu_cell(m),
                f(m, "wall_s"),
            );
        }
        let base = medians[0];
        let _ = writeln!(
            doc,
            "\nRatios, {} against each other server (above 1: {} is ahead):\n",
            SERVERS[0].name, SERVERS[0].name
        );
        for (i, server) in SERVERS.iter().enumerate().skip(1) {
            let m = medians[i];
            let _ = writeln!(
                doc,
                "- against {}: deliveries/s {}, p99 latency {}, server CPU per delivery {}, \
                 server peak memory {}",
                server.name,
                ratio(f(base, "deliveries_per_sec"), f(m, "deliveries_per_sec")),
                ratio(f(m, "p99_ms"), f(base, "p99_ms")),
                ratio(per_million(m), per_million(base)),
                ratio(f(m, "server_peak_rss_kib"), f(base, "server_peak_rss_kib")),
            );
        }
        let _ = writeln!(doc);
    }

    let _ = writeln!(
        doc,
        "## Idle connections\n\n`grader bench --idle N`: an observer connects, then N clients \
         in batches of 64, each batch once the observer has seen the previous one's join \
         notices; the idle clients read what arrives (every later client's join: N²/2 notices \
         in all) in a sweep every 100 ms. Then the server's memory, its CPU while connecting and \
         over 1 s of idleness, and whether a line one client sends still reaches another. The \
         grader raises its own RLIMIT_NOFILE soft limit to the hard limit, and gives the server \
         N + 64 descriptors. Each run may take --timeout {IDLE_TIMEOUT} s: `(deadline)` after \
         the count of connected clients means the server had not let every client in (and sent \
         every join notice) by then, and the other figures are from that moment.\n"
    );
    let _ = writeln!(
        doc,
        "| server | idle clients | connected | connect s | server CPU s | RSS KiB | peak RSS KiB \
         | idle CPU s (1 s) | still serves | NOFILE: grader soft (was) / hard, server |"
    );
    let _ = writeln!(doc, "|---|---|---|---|---|---|---|---|---|---|");
    for &n in IDLE {
        for server in SERVERS.iter().filter(|s| n <= s.max_idle) {
            let n_text = n.to_string();
            let v = measure(
                &grader,
                server,
                &["--idle", &n_text, "--timeout", IDLE_TIMEOUT],
                Duration::from_secs(900),
            );
            let nofile = &v["nofile"];
            let _ = writeln!(
                doc,
                "| {} | {} | {} | {:.1} | {:.2} | {} | {} | {:.3} | {} | {} ({}) / {}, {} |",
                server.name,
                thousands(n as f64),
                connected_cell(&v),
                f(&v, "connect_s"),
                f(&v, "server_cpu_s"),
                thousands(f(&v, "server_rss_kib")),
                thousands(f(&v, "server_peak_rss_kib")),
                f(&v, "idle_cpu_s"),
                if v["served_line"] == true {
                    "yes"
                } else {
                    "no"
                },
                nofile["soft"],
                nofile["soft_before"],
                nofile["hard"],
                nofile["server"],
            );
        }
    }

    let load_after = load_average();
    let _ = writeln!(
        doc,
        "\nLoad average (1 min) when the run ended: {load_after:.2}.{}",
        if load_after > 1.5 {
            " Other work ran meanwhile: the last rows were measured on a busy machine."
        } else {
            ""
        }
    );
    let _ = writeln!(
        doc,
        "\n## Reproduce\n\n    make bench\n\nregenerates this file (about {:.0} minutes here). \
         One measurement at a time, from the repository's root:\n\n    cargo build --release -p grader",
        (started.elapsed().as_secs_f64() / 60.0).ceil()
    );
    for server in SERVERS {
        let (_, shown) = server.args();
        let env: String = server
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v} "))
            .collect();
        let (options, tail) = match shown.split_once(" -- ") {
            Some((options, tail)) => (options.to_owned(), format!(" -- {tail}")),
            None => (shown.clone(), String::new()),
        };
        for workload in WORKLOADS {
            let extra = if workload.args.is_empty() {
                String::new()
            } else {
                format!(" {}", workload.args.join(" "))
            };
            let _ = writeln!(
                doc,
                "    {env}target/release/grader bench {options}{extra}{tail}"
            );
        }
        for &n in IDLE.iter().filter(|&&n| n <= server.max_idle) {
            let _ = writeln!(
                doc,
                "    {env}target/release/grader bench {options} --idle {n} --timeout {IDLE_TIMEOUT}{tail}"
            );
        }
    }
    let _ = writeln!(
        doc,
        "\nAdd `--format json` for one JSON object per run. Exit status: 0 nothing lost, 1 lines \
         lost, 2 the bench could not run."
    );
    let path = manifest_dir().join("BENCH.md");
    std::fs::write(&path, &doc).expect("write BENCH.md");
    let _ = std::fs::remove_file(&grader);
    eprintln!("wrote {}", path.display());
}
