//! `bench-report`: writes `grader/BENCH.md`, the reference chat server
//! against the other servers of [`SERVERS`] under `grader bench`, measured
//! one after the other in one run (`make bench`, a few minutes).
//!
//! It builds the grader with `--release`, runs a private copy of it for
//! every measurement with `--format json`, reads each result back through
//! the grader's own report types, and renders the tables.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use grader::bench::report::{Idle, Throughput, thousands};
use serde::de::DeserializeOwned;

/// How the bench starts a server (it appends the port).
enum Start {
    /// The grader's own reference server, `grader reference-server ARGS`.
    Reference(&'static [&'static str]),
    /// An executable in the grader's folder.
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
    /// Its arguments to `grader bench` (`kit` is the kit's folder), and how
    /// BENCH.md shows them.
    fn args(&self, kit: &Path) -> (Vec<String>, String) {
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
                let full = kit.join("grader").join(path);
                (
                    vec!["--server".into(), full.to_string_lossy().into_owned()],
                    format!("--server grader/{path}"),
                )
            }
        }
    }
}

/// Everything BENCH.md shows, measured.
struct Report {
    date: String,
    source: String,
    machine: String,
    load_before: f64,
    load_after: f64,
    minutes: f64,
    /// Per workload of [`WORKLOADS`], per server of [`SERVERS`], every run.
    throughput: Vec<Vec<Vec<Throughput>>>,
    /// Idle runs: the size, the server's index in [`SERVERS`], the result.
    idle: Vec<(usize, usize, Idle)>,
}

/// Measures every server and writes the report to `out`.
pub fn run(kit: &Path, out: &Path) -> Result<()> {
    // Every measurement runs this copy: a build in the same target folder
    // during the report (cargo test, make soak) would otherwise swap the
    // reference server under it halfway through.
    let grader = PrivateCopy::of(&build_grader(kit)?)?;
    let load_before = load_average();
    let started = Instant::now();
    let mut throughput = Vec::new();
    for workload in WORKLOADS {
        // Interleaved (A B A B A B), so that a change in the machine's other
        // load hits every server alike.
        let mut runs: Vec<Vec<Throughput>> = SERVERS.iter().map(|_| Vec::new()).collect();
        for _ in 0..RUNS {
            for (i, server) in SERVERS.iter().enumerate() {
                runs[i].push(measure(&grader.0, kit, server, workload.args)?);
            }
        }
        throughput.push(runs);
    }
    let mut idle = Vec::new();
    for &n in IDLE {
        for (i, server) in SERVERS.iter().enumerate() {
            if n <= server.max_idle {
                let n_text = n.to_string();
                let args = ["--idle", &n_text, "--timeout", IDLE_TIMEOUT];
                idle.push((n, i, measure(&grader.0, kit, server, &args)?));
            }
        }
    }
    let report = Report {
        date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        source: source(kit),
        machine: machine(),
        load_before,
        load_after: load_average(),
        minutes: (started.elapsed().as_secs_f64() / 60.0).ceil(),
        throughput,
        idle,
    };
    std::fs::write(out, render(&report, kit))
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// Builds the grader with `--release` and returns its executable, where
/// cargo says it is (whatever the target folder).
fn build_grader(kit: &Path) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(kit)
        .args(["build", "--release", "--package", "grader"])
        .args([
            "--bin",
            "grader",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo to build the grader")?;
    if !output.status.success() {
        bail!(
            "cargo build --release --package grader failed: {}",
            output.status
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == "grader"
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .context("cargo built the grader but did not say where its executable is")
}

/// A copy of an executable in the temporary folder, removed when dropped.
struct PrivateCopy(PathBuf);

impl PrivateCopy {
    fn of(exe: &Path) -> Result<PrivateCopy> {
        let copy = std::env::temp_dir().join(format!("grader-bench-{}", std::process::id()));
        std::fs::copy(exe, &copy)
            .with_context(|| format!("cannot copy {} to {}", exe.display(), copy.display()))?;
        Ok(PrivateCopy(copy))
    }
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `grader bench` on `server` with `extra` arguments and JSON output,
/// and reads the result. Lost lines are a result (status 1); a bench that
/// could not run (status 2) stops the report. No deadline of its own: the
/// bench has one on every step (`--timeout`, `--ready-timeout`) and
/// contains the server.
fn measure<T: DeserializeOwned>(
    grader: &Path,
    kit: &Path,
    server: &Measured,
    extra: &[&str],
) -> Result<T> {
    let (mut args, _) = server.args(kit);
    // Everything after `--` goes to the server: the bench's options first.
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let tail = args.split_off(split);
    args.extend(extra.iter().map(|&a| a.to_owned()));
    args.extend(["--format".to_owned(), "json".to_owned()]);
    args.extend(tail);
    let started = Instant::now();
    let output = Command::new(grader)
        .arg("bench")
        .args(&args)
        .envs(server.env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", grader.display()))?;
    let code = output.status.code();
    eprintln!(
        "{:<10} {:<40} status {code:?}, {:.1} s",
        server.name,
        extra.join(" "),
        started.elapsed().as_secs_f64()
    );
    let describe = || {
        format!(
            "grader bench {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    if !matches!(code, Some(0 | 1)) {
        bail!("the bench could not run: {}", describe());
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("not the bench's JSON result: {}", describe()))
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
fn source(kit: &Path) -> String {
    let root = kit.to_string_lossy();
    let commit = command_output("git", &["-C", &root, "rev-parse", "--short", "HEAD"]);
    let changed = command_output(
        "git",
        &[
            "-C",
            &root,
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

/// The median run by deliveries per second (the middle one, so that its
/// other figures are from that same run).
fn median(runs: &[Throughput]) -> &Throughput {
    let mut sorted: Vec<&Throughput> = runs.iter().collect();
    sorted.sort_by(|a, b| a.deliveries_per_sec.total_cmp(&b.deliveries_per_sec));
    sorted[sorted.len() / 2]
}

fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 && value.is_finite() {
        format!("{:.2}x", value / base)
    } else {
        "-".into()
    }
}

/// The server's CPU seconds per million deliveries.
fn cpu_per_million(t: &Throughput) -> f64 {
    t.server_cpu_s / (t.deliveries as f64 / 1e6).max(f64::MIN_POSITIVE)
}

/// The bench's own CPU time, marked when it had a whole core: then the
/// load generator, not the server, may be what limits the figures.
fn bench_cpu_cell(t: &Throughput) -> String {
    if t.bench_cpu_s > 0.9 * t.wall_s {
        format!("{:.2} (bench-bound)", t.bench_cpu_s)
    } else {
        format!("{:.2}", t.bench_cpu_s)
    }
}

/// How many idle clients got in, and why not all if not.
fn connected_cell(idle: &Idle) -> String {
    let connected = thousands(idle.connected as u64);
    if idle.ended == "complete" {
        connected
    } else {
        format!("{connected} ({})", idle.ended)
    }
}

/// BENCH.md's text.
fn render(report: &Report, kit: &Path) -> String {
    let mut doc = String::new();
    let _ = writeln!(
        doc,
        "# `grader bench`: the reference chat server against other implementations\n\n\
         Generated by `make bench` ({}); do not edit by hand. The generator is \
         `cargo run -p xtask -- bench-report` (xtask/src/bench.rs): it builds the grader with \
         `--release` and runs `grader bench` on each server below, one after the other, in one \
         run.\n",
        report.date
    );
    let _ = writeln!(doc, "## Servers\n");
    for server in SERVERS {
        let _ = writeln!(doc, "- **{}**: {}", server.name, server.about);
    }
    let _ = writeln!(doc, "- source: {}", report.source);
    let _ = writeln!(doc, "\n## Machine\n\n{}", report.machine);
    let _ = writeln!(
        doc,
        "- load average (1 min) when the run started: {:.2}{}\n",
        report.load_before,
        if report.load_before > 0.5 {
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
    for (workload, runs) in WORKLOADS.iter().zip(&report.throughput) {
        throughput_section(&mut doc, workload, runs);
    }
    idle_section(&mut doc, &report.idle);
    let _ = writeln!(
        doc,
        "\nLoad average (1 min) when the run ended: {:.2}.{}",
        report.load_after,
        if report.load_after > 1.5 {
            " Other work ran meanwhile: the last rows were measured on a busy machine."
        } else {
            ""
        }
    );
    reproduce_section(&mut doc, report.minutes, kit);
    doc
}

/// One workload's table (`runs`: per server, every run) and the ratios.
fn throughput_section(doc: &mut String, workload: &Workload, runs: &[Vec<Throughput>]) {
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
    let medians: Vec<&Throughput> = runs.iter().map(|r| median(r)).collect();
    for ((server, runs), m) in SERVERS.iter().zip(runs).zip(&medians) {
        let rates = runs.iter().map(|t| t.deliveries_per_sec);
        let low = rates.clone().fold(f64::INFINITY, f64::min);
        let high = rates.fold(0.0, f64::max);
        let lost: u64 = runs.iter().map(|t| t.lost).sum();
        let _ = writeln!(
            doc,
            "| {} | {} ({}-{}) | {:.2} | {:.2} | {:.2} | {} | {} | {:.2} | {:.3} s | {} | {:.2} |",
            server.name,
            thousands(m.deliveries_per_sec as u64),
            thousands(low as u64),
            thousands(high as u64),
            m.p50_ms,
            m.p99_ms,
            m.max_ms,
            lost,
            thousands(m.server_peak_rss_kib),
            m.server_cpu_s,
            cpu_per_million(m),
            bench_cpu_cell(m),
            m.wall_s,
        );
    }
    let base = medians[0];
    let _ = writeln!(
        doc,
        "\nRatios, {0} against each other server (above 1: {0} is ahead):\n",
        SERVERS[0].name
    );
    for (server, m) in SERVERS.iter().zip(&medians).skip(1) {
        let _ = writeln!(
            doc,
            "- against {}: deliveries/s {}, p99 latency {}, server CPU per delivery {}, \
             server peak memory {}",
            server.name,
            ratio(base.deliveries_per_sec, m.deliveries_per_sec),
            ratio(m.p99_ms, base.p99_ms),
            ratio(cpu_per_million(m), cpu_per_million(base)),
            ratio(
                m.server_peak_rss_kib as f64,
                base.server_peak_rss_kib as f64
            ),
        );
    }
    let _ = writeln!(doc);
}

/// The idle table: one row per (size, server) measured.
fn idle_section(doc: &mut String, idle: &[(usize, usize, Idle)]) {
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
    for (n, server, v) in idle {
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {:.1} | {:.2} | {} | {} | {:.3} | {} | {} ({}) / {}, {} |",
            SERVERS[*server].name,
            thousands(*n as u64),
            connected_cell(v),
            v.connect_s,
            v.server_cpu_s,
            thousands(v.server_rss_kib),
            thousands(v.server_peak_rss_kib),
            v.idle_cpu_s,
            if v.served_line { "yes" } else { "no" },
            v.nofile.soft,
            v.nofile.soft_before,
            v.nofile.hard,
            v.nofile.server,
        );
    }
}

/// How to regenerate the file, and every measurement as a command.
fn reproduce_section(doc: &mut String, minutes: f64, kit: &Path) {
    let _ = writeln!(
        doc,
        "\n## Reproduce\n\n    make bench\n\nregenerates this file (about {minutes:.0} minutes \
         here). One measurement at a time, from the repository's root:\n\n    cargo build \
         --release -p grader"
    );
    for server in SERVERS {
        let (_, shown) = server.args(kit);
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
            let extra: String = workload.args.iter().map(|a| format!(" {a}")).collect();
            let _ = writeln!(
                doc,
                "    {env}target/release/grader bench {options}{extra}{tail}"
            );
        }
        for &n in IDLE.iter().filter(|&&n| n <= server.max_idle) {
            let _ = writeln!(
                doc,
                "    {env}target/release/grader bench {options} --idle {n} --timeout \
                 {IDLE_TIMEOUT}{tail}"
            );
        }
    }
    let _ = writeln!(
        doc,
        "\nAdd `--format json` for one JSON object per run. Exit status: 0 nothing lost, 1 lines \
         lost, 2 the bench could not run."
    );
}

#[cfg(test)]
mod tests {
    use grader::bench::report::Nofile;

    use super::*;

    const NOFILE: Nofile = Nofile {
        soft_before: 1024,
        soft: 20_000,
        hard: 20_000,
        server: 2_064,
    };

    /// A throughput run of `rate` deliveries per second that took `wall`
    /// seconds, the bench using `bench_cpu` of them.
    fn throughput(rate: f64, p99_ms: f64, bench_cpu: f64, wall: f64) -> Throughput {
        Throughput {
            server: "grader reference-server 0".into(),
            clients: 100,
            senders: 10,
            messages: 10_000,
            size: 64,
            rate: None,
            deliveries: 9_900_000,
            expected_deliveries: 9_900_000,
            deliveries_per_sec: rate,
            p50_ms: p99_ms / 2.0,
            p99_ms,
            max_ms: p99_ms * 1.01,
            lost: 0,
            missing: 0,
            duplicated: 0,
            out_of_order: 0,
            corrupt: 0,
            first_corrupt: None,
            disconnected: 0,
            server_peak_rss_kib: 18_000,
            server_cpu_s: 0.5,
            server_exited: false,
            bench_cpu_s: bench_cpu,
            wall_s: wall,
            run_s: wall,
            ended: "complete".into(),
            nofile: NOFILE,
        }
    }

    fn idle(connected: usize, ended: &str) -> Idle {
        Idle {
            server: "grader reference-server 0".into(),
            mode: "idle".into(),
            connections: 2_000,
            connected,
            server_rss_kib: 7_540,
            server_peak_rss_kib: 7_540,
            server_cpu_s: 0.44,
            idle_cpu_s: 0.0,
            idle_window_s: 1.0,
            connect_s: 0.5,
            served_line: ended == "complete",
            ended: ended.into(),
            nofile: NOFILE,
        }
    }

    fn report() -> Report {
        // Per server: three runs, the median being the middle rate.
        let runs = |rates: [f64; 3], p99: f64| -> Vec<Throughput> {
            rates
                .iter()
                .enumerate()
                .map(|(i, &rate)| throughput(rate, p99 + i as f64, 0.5, 1.0))
                .collect()
        };
        let workload = vec![
            runs([12_000_000.0, 9_000_000.0, 10_000_000.0], 900.0),
            runs([5_000_000.0, 5_500_000.0, 4_000_000.0], 1800.0),
            vec![
                throughput(1_000_000.0, 5.0, 0.99, 1.0),
                throughput(1_000_000.0, 5.0, 0.99, 1.0),
                throughput(1_000_000.0, 5.0, 0.99, 1.0),
            ],
        ];
        Report {
            date: "2026-01-01 00:00 UTC".into(),
            source: "commit abc1234".into(),
            machine: "- CPU: test".into(),
            load_before: 0.1,
            load_after: 2.0,
            minutes: 3.0,
            throughput: vec![workload.clone(), workload],
            idle: vec![
                (2_000, 0, idle(2_000, "complete")),
                (2_000, 2, idle(1_234, "deadline")),
            ],
        }
    }

    fn row<'a>(doc: &'a str, starts: &str) -> &'a str {
        doc.lines()
            .find(|line| line.starts_with(starts))
            .unwrap_or_else(|| panic!("no line starting {starts:?} in:\n{doc}"))
    }

    #[test]
    fn a_row_shows_the_median_run_and_the_range_of_all() {
        let doc = render(&report(), Path::new("/kit"));
        let reference = row(&doc, "| reference |");
        // The median by rate is the third run (10 M), whose p99 is 900 + 2.
        assert!(
            reference.starts_with(
                "| reference | 10,000,000 (9,000,000-12,000,000) | 451.00 | 902.00 | 911.02 | 0 |"
            ),
            "{reference}"
        );
        assert!(
            reference.contains("| 0.051 s | 0.50 | 1.00 |"),
            "{reference}"
        );
        // A bench that had a whole core is marked.
        assert!(
            row(&doc, "| python |").contains("0.99 (bench-bound)"),
            "{doc}"
        );
    }

    #[test]
    fn ratios_compare_the_first_server_with_each_other() {
        let doc = render(&report(), Path::new("/kit"));
        // 10 M against the at-once median, 5 M; p99 1800 against 902.
        let against = row(&doc, "- against at-once:");
        assert_eq!(
            against,
            "- against at-once: deliveries/s 2.00x, p99 latency 2.00x, server CPU per delivery \
             1.00x, server peak memory 1.00x"
        );
    }

    #[test]
    fn an_idle_row_says_why_not_every_client_got_in() {
        let doc = render(&report(), Path::new("/kit"));
        assert_eq!(
            row(&doc, "| reference | 2,000 |"),
            "| reference | 2,000 | 2,000 | 0.5 | 0.44 | 7,540 | 7,540 | 0.000 | yes | 20000 \
             (1024) / 20000, 2064 |"
        );
        assert!(
            row(&doc, "| python | 2,000 |").starts_with("| python | 2,000 | 1,234 (deadline) |"),
            "{doc}"
        );
        assert!(doc.contains("measured on a busy machine"), "{doc}");
    }

    #[test]
    fn every_measurement_has_its_command() {
        let doc = render(&report(), Path::new("/kit"));
        for line in [
            "    target/release/grader bench --reference --rate 1010 --messages 5000",
            "    CHAT_WRITE_AT_ONCE=1 target/release/grader bench --reference --idle 2000 \
             --timeout 300",
            "    target/release/grader bench --server grader/tests/fixtures/server_ok.py",
        ] {
            assert!(doc.lines().any(|l| l == line), "no {line:?} in:\n{doc}");
        }
        assert!(
            !doc.contains("--idle 5000 --timeout 300 --"),
            "an option after the server's arguments:\n{doc}"
        );
    }

    #[test]
    fn a_server_outside_the_grader_runs_by_its_full_path() {
        let (args, shown) = SERVERS[2].args(Path::new("/kit"));
        assert_eq!(
            args,
            ["--server", "/kit/grader/tests/fixtures/server_ok.py"]
        );
        assert_eq!(shown, "--server grader/tests/fixtures/server_ok.py");
    }
}
