//! `bench-report`: writes `grader/BENCH.md`, the reference chat server
//! against the other servers of [`SERVERS`] under `grader bench`, and lab
//! 1's server against lab 2's room ([`ROOM`]) side by side, measured one
//! after the other in one run (`make bench`, a few minutes).
//!
//! It builds the grader and the room with `--release`, runs private copies
//! of them for every measurement with `--format json`, reads each result
//! back through the grader's own report types, and renders the tables.

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
    /// A binary of the workspace, built with `--release` by the report and
    /// run from its private folder (see [`BUILT`]).
    Built(&'static str),
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

/// Lab 2's reference, measured side by side with lab 1's (the first of
/// [`SERVERS`]) in a section of its own.
const ROOM: Measured = Measured {
    name: "room",
    about: "lab 2's reference, `room`: a parent process and a `room-helper` process per \
            client, pipes and a shared-memory ring (solution/src/room/)",
    start: Start::Built("room"),
    env: &[],
    max_idle: SIDE_IDLE,
};

/// The workspace's binaries the report builds and copies, the grader first:
/// the room runs its `room-helper` from beside itself.
const BUILT: &[(&str, &str)] = &[
    ("grader", "grader"),
    ("chat", "room"),
    ("chat", "room-helper"),
];

/// The side-by-side flood: the default load with 1,000 lines per sender
/// instead of 10,000, since the room forwards lines about a hundred times
/// slower than lab 1's server.
const SIDE_FLOOD: &[&str] = &["--messages", "1000"];

/// The side-by-side idle clients: a helper process each in the room.
const SIDE_IDLE: usize = 1_000;

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
    /// Its arguments to `grader bench` (`kit` is the kit's folder, `built`
    /// the folder of the private copies of [`BUILT`]), and how BENCH.md
    /// shows them.
    fn args(&self, kit: &Path, built: &Path) -> (Vec<String>, String) {
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
            Start::Built(name) => (
                vec![
                    "--server".into(),
                    built.join(name).to_string_lossy().into_owned(),
                ],
                format!("--server target/release/{name}"),
            ),
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
    side: SideBySide,
}

/// Lab 1's server (`SERVERS[0]`) and the room, each measured the same way.
struct SideBySide {
    /// The [`SIDE_FLOOD`] runs: lab 1's, then the room's.
    flood: [Vec<Throughput>; 2],
    /// [`SIDE_IDLE`] idle clients: lab 1's, then the room's.
    idle: [Idle; 2],
}

/// Measures every server and writes the report to `out`.
pub fn run(kit: &Path, out: &Path) -> Result<()> {
    // Every measurement runs this copy: a build in the same target folder
    // during the report (cargo test, make soak) would otherwise swap the
    // reference server under it halfway through.
    let tools = PrivateCopy::of(&build(kit)?)?;
    let grader = &tools.grader();
    let built = &tools.0;
    let load_before = load_average();
    let started = Instant::now();
    // Side by side first, interleaved like the rest.
    let pair = [&SERVERS[0], &ROOM];
    let mut flood = [Vec::new(), Vec::new()];
    for _ in 0..RUNS {
        for (runs, server) in flood.iter_mut().zip(pair) {
            runs.push(measure(grader, kit, built, server, SIDE_FLOOD)?);
        }
    }
    let side_idle = SIDE_IDLE.to_string();
    let side_idle = ["--idle", &side_idle, "--timeout", IDLE_TIMEOUT];
    let side = SideBySide {
        flood,
        idle: [
            measure(grader, kit, built, pair[0], &side_idle)?,
            measure(grader, kit, built, pair[1], &side_idle)?,
        ],
    };
    let mut throughput = Vec::new();
    for workload in WORKLOADS {
        // Interleaved (A B A B A B), so that a change in the machine's other
        // load hits every server alike.
        let mut runs: Vec<Vec<Throughput>> = SERVERS.iter().map(|_| Vec::new()).collect();
        for _ in 0..RUNS {
            for (i, server) in SERVERS.iter().enumerate() {
                runs[i].push(measure(grader, kit, built, server, workload.args)?);
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
                idle.push((n, i, measure(grader, kit, built, server, &args)?));
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
        side,
    };
    std::fs::write(out, render(&report, kit))
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// Builds [`BUILT`] with `--release` and returns their executables, in
/// its order, where cargo says they are (whatever the target folder).
fn build(kit: &Path) -> Result<Vec<PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(kit).args(["build", "--release"]);
    for (package, bin) in BUILT {
        command.args(["--package", package, "--bin", bin]);
    }
    let shown = format!("{:?}", command);
    let output = command
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo to build the grader and the room")?;
    if !output.status.success() {
        bail!("{shown} failed: {}", output.status);
    }
    let messages: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    BUILT
        .iter()
        .map(|(_, bin)| {
            messages
                .iter()
                .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == *bin)
                .find_map(|m| m["executable"].as_str().map(PathBuf::from))
                .with_context(|| {
                    format!("cargo built {bin} but did not say where its executable is")
                })
        })
        .collect()
}

/// Copies of executables in a folder of their own in the temporary folder,
/// removed when dropped.
struct PrivateCopy(PathBuf);

impl PrivateCopy {
    fn of(exes: &[PathBuf]) -> Result<PrivateCopy> {
        let dir = std::env::temp_dir().join(format!("grader-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot make {}", dir.display()))?;
        let copies = PrivateCopy(dir);
        for exe in exes {
            let name = exe.file_name().context("an executable without a name")?;
            let copy = copies.0.join(name);
            std::fs::copy(exe, &copy)
                .with_context(|| format!("cannot copy {} to {}", exe.display(), copy.display()))?;
        }
        Ok(copies)
    }

    /// The copy of the grader.
    fn grader(&self) -> PathBuf {
        self.0.join(BUILT[0].1)
    }
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
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
    built: &Path,
    server: &Measured,
    extra: &[&str],
) -> Result<T> {
    let (mut args, _) = server.args(kit, built);
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
         `cargo run -p xtask -- bench-report` (xtask/src/bench.rs): it builds the grader and \
         lab 2's room with `--release` and runs `grader bench` on each server below, one after \
         the other, in one run. A server's memory and CPU are summed over it and every process \
         it started.\n",
        report.date
    );
    let _ = writeln!(doc, "## Servers\n");
    for server in SERVERS {
        let _ = writeln!(doc, "- **{}**: {}", server.name, server.about);
    }
    let _ = writeln!(
        doc,
        "- **{}**: {}; measured against {} in the section side by side",
        ROOM.name, ROOM.about, SERVERS[0].name
    );
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
    side_section(&mut doc, &report.side);
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

/// `value / base` for people: `70x`, `2.5x`, `1/70`, `1/2.5`.
fn factor(value: f64, base: f64) -> String {
    let r = value / base;
    if !(r.is_finite() && r > 0.0) {
        "-".into()
    } else if r >= 10.0 {
        format!("{r:.0}x")
    } else if r >= 1.0 {
        format!("{r:.1}x")
    } else if r > 0.1 {
        format!("1/{:.1}", 1.0 / r)
    } else {
        format!("1/{:.0}", 1.0 / r)
    }
}

/// An idle run's PSS per idle client, in KiB, if known.
fn pss_per_client(idle: &Idle) -> Option<f64> {
    let pss = idle.server_pss_kib? as f64;
    (idle.connected > 0).then(|| pss / idle.connected as f64)
}

/// Lab 1's server and lab 2's room: one table, what it means.
fn side_section(doc: &mut String, side: &SideBySide) {
    let (lab1, room) = (SERVERS[0].name, ROOM.name);
    let _ = writeln!(
        doc,
        "## Lab 1's server and lab 2's room, side by side\n\n\
         Both measured in this run, the same way: a flood of N=100 clients, K=10 of them \
         sending M=1,000 lines of 64 bytes each (`grader bench --messages 1000`; median of \
         {RUNS} runs by deliveries per second, the range over all of them), and {idle} idle \
         clients (`grader bench --idle {SIDE_IDLE}`). The figures of a server are summed over \
         it and every process it started: the room, a `room-helper` per client, and one more \
         for the bench's observer client. RSS counts a page that several processes share (the \
         helper's code, the C library) once in each of them; PSS divides it among them, so \
         the sum of PSS is the memory they take together.\n",
        idle = thousands(SIDE_IDLE as u64),
    );
    let flood = side.flood.each_ref().map(|runs| median(runs));
    let [a, b] = &side.idle;
    let _ = writeln!(
        doc,
        "| | lab 1: {lab1} | lab 2: {room} | {room} against {lab1} |"
    );
    let _ = writeln!(doc, "|---|---|---|---|");
    let rates = side.flood.each_ref().map(|runs| {
        let rates = runs.iter().map(|t| t.deliveries_per_sec);
        let low = rates.clone().fold(f64::INFINITY, f64::min);
        let high = rates.fold(0.0, f64::max);
        format!(
            "{} ({}-{})",
            thousands(flood_rate(runs) as u64),
            thousands(low as u64),
            thousands(high as u64)
        )
    });
    let lost = side
        .flood
        .each_ref()
        .map(|runs| runs.iter().map(|t| t.lost).sum::<u64>());
    let mut row = |name: String, cells: [String; 2], compared: String| {
        let _ = writeln!(doc, "| {name} | {} | {} | {compared} |", cells[0], cells[1]);
    };
    row(
        "deliveries/s, flood".into(),
        rates,
        factor(flood[1].deliveries_per_sec, flood[0].deliveries_per_sec),
    );
    row(
        "lines lost, flood (all runs)".into(),
        lost.map(thousands),
        String::new(),
    );
    row(
        "server CPU per million deliveries, flood".into(),
        flood.map(|t| format!("{:.3} s", cpu_per_million(t))),
        factor(cpu_per_million(flood[1]), cpu_per_million(flood[0])),
    );
    let idle = thousands(SIDE_IDLE as u64);
    row(
        format!("connected of {idle} idle clients"),
        [connected_cell(a), connected_cell(b)],
        String::new(),
    );
    row(
        format!("connect time for {idle} idle clients"),
        [a, b].map(|v| format!("{:.1} s", v.connect_s)),
        factor(b.connect_s, a.connect_s),
    );
    row(
        "server CPU while they connect".into(),
        [a, b].map(|v| format!("{:.2} s", v.server_cpu_s)),
        factor(b.server_cpu_s, a.server_cpu_s),
    );
    row(
        "processes".into(),
        [a, b].map(|v| thousands(v.server_processes as u64)),
        factor(b.server_processes as f64, a.server_processes as f64),
    );
    row(
        "memory, RSS summed".into(),
        [a, b].map(|v| format!("{} KiB", thousands(v.server_rss_kib))),
        factor(b.server_rss_kib as f64, a.server_rss_kib as f64),
    );
    let pss = |v: &Idle| v.server_pss_kib.map_or(f64::NAN, |kib| kib as f64);
    row(
        "memory, PSS summed".into(),
        [a, b].map(|v| {
            v.server_pss_kib
                .map_or("-".into(), |kib| format!("{} KiB", thousands(kib)))
        }),
        factor(pss(b), pss(a)),
    );
    row(
        "PSS per idle client".into(),
        [a, b].map(|v| pss_per_client(v).map_or("-".into(), |kib| format!("{kib:.0} KiB"))),
        factor(
            pss_per_client(b).unwrap_or(f64::NAN),
            pss_per_client(a).unwrap_or(f64::NAN),
        ),
    );
    let _ = writeln!(
        doc,
        "\nWhat a process per client costs: each line the room forwards goes into the shared \
         ring and is announced to every helper through its pipe, and each helper wakes to copy \
         it out and write it to its client, where lab 1's server makes one `write` per client \
         in one process; here that is {} the CPU per delivery and {} the deliveries per second. \
         An idle client holds a whole process, about {} of memory of its own (PSS) against {} \
         in lab 1's server, and letting {idle} clients in, each with a `fork` and an `exec`, \
         took {:.1} s instead of {:.1} s. In exchange a helper that crashes takes only its own \
         client with it; a single epoll loop, as in lab 1, is how servers that hold many \
         clients are built.\n",
        factor(cpu_per_million(flood[1]), cpu_per_million(flood[0])),
        factor(flood[1].deliveries_per_sec, flood[0].deliveries_per_sec),
        pss_per_client(b).map_or("-".into(), |kib| format!("{kib:.0} KiB")),
        pss_per_client(a).map_or("-".into(), |kib| format!("{kib:.0} KiB")),
        b.connect_s,
        a.connect_s,
    );
}

/// The median rate of some throughput runs.
fn flood_rate(runs: &[Throughput]) -> f64 {
    median(runs).deliveries_per_sec
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
         2N + 64 descriptors (a process-per-client server holds two pipes per client). Each run may take --timeout {IDLE_TIMEOUT} s: `(deadline)` after \
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
    let built = Path::new("target/release");
    let _ = writeln!(
        doc,
        "\n## Reproduce\n\n    make bench\n\nregenerates this file (about {minutes:.0} minutes \
         here). One measurement at a time, from the repository's root:\n\n    cargo build \
         --release -p grader -p chat"
    );
    for server in [&SERVERS[0], &ROOM] {
        let (_, shown) = server.args(kit, built);
        let flood: String = SIDE_FLOOD.iter().map(|a| format!(" {a}")).collect();
        let _ = writeln!(doc, "    target/release/grader bench {shown}{flood}");
        let _ = writeln!(
            doc,
            "    target/release/grader bench {shown} --idle {SIDE_IDLE} --timeout {IDLE_TIMEOUT}"
        );
    }
    for server in SERVERS {
        let (_, shown) = server.args(kit, built);
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
            server_processes: 1,
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
            server_processes: 1,
            server_rss_kib: 7_540,
            server_peak_rss_kib: 7_540,
            server_pss_kib: Some(6_000),
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
            side: side(),
        }
    }

    /// Lab 1 at 4, 5 and 6 M deliveries/s for 0.5 s of CPU per 9.9 M; the
    /// room at 40, 60 and 50 k for 99 s; then 1,000 idle clients each.
    fn side() -> SideBySide {
        let runs = |rates: [f64; 3], cpu: f64| -> Vec<Throughput> {
            rates
                .iter()
                .map(|&rate| Throughput {
                    server_cpu_s: cpu,
                    ..throughput(rate, 10.0, 0.5, 1.0)
                })
                .collect()
        };
        let lab1 = Idle {
            connections: 1_000,
            connected: 1_000,
            connect_s: 0.4,
            server_cpu_s: 0.2,
            server_rss_kib: 5_000,
            server_pss_kib: Some(4_000),
            ..idle(1_000, "complete")
        };
        let room = Idle {
            server_processes: 1_002,
            connect_s: 25.0,
            server_cpu_s: 20.0,
            server_rss_kib: 2_900_000,
            server_pss_kib: Some(200_000),
            ..lab1.clone()
        };
        SideBySide {
            flood: [runs([4e6, 6e6, 5e6], 0.5), runs([40e3, 60e3, 50e3], 99.0)],
            idle: [lab1, room],
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
    fn the_side_by_side_table_sets_the_room_against_lab_1() {
        let doc = render(&report(), Path::new("/kit"));
        let section = doc
            .split_once("## Lab 1's server and lab 2's room, side by side")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("no side-by-side section in:\n{doc}"));
        let row = |starts| row(section, starts);
        assert_eq!(
            row("| deliveries/s, flood |"),
            "| deliveries/s, flood | 5,000,000 (4,000,000-6,000,000) | 50,000 (40,000-60,000) \
             | 1/100 |"
        );
        // 0.5 s and 99 s for 9.9 M deliveries each.
        assert_eq!(
            row("| server CPU per million deliveries, flood |"),
            "| server CPU per million deliveries, flood | 0.051 s | 10.000 s | 198x |"
        );
        assert_eq!(
            row("| connect time for 1,000 idle clients |"),
            "| connect time for 1,000 idle clients | 0.4 s | 25.0 s | 62x |"
        );
        assert_eq!(row("| processes |"), "| processes | 1 | 1,002 | 1002x |");
        assert_eq!(
            row("| lines lost, flood (all runs) |"),
            "| lines lost, flood (all runs) | 0 | 0 |  |"
        );
        assert_eq!(
            row("| memory, PSS summed |"),
            "| memory, PSS summed | 4,000 KiB | 200,000 KiB | 50x |"
        );
        assert_eq!(
            row("| PSS per idle client |"),
            "| PSS per idle client | 4 KiB | 200 KiB | 50x |"
        );
        // The text says the same, in its own words.
        assert!(
            section.contains("here that is 198x the CPU per delivery and 1/100 the deliveries"),
            "{section}"
        );
        // Both measured in this run: the commands are there.
        for line in [
            "    target/release/grader bench --server target/release/room --messages 1000",
            "    target/release/grader bench --reference --idle 1000 --timeout 300",
        ] {
            assert!(doc.lines().any(|l| l == line), "no {line:?} in:\n{doc}");
        }
    }

    #[test]
    fn factors_read_as_times_or_fractions() {
        assert_eq!(factor(700.0, 10.0), "70x");
        assert_eq!(factor(25.0, 10.0), "2.5x");
        assert_eq!(factor(4.0, 10.0), "1/2.5");
        assert_eq!(factor(1.0, 70.0), "1/70");
        assert_eq!(factor(1.0, 0.0), "-");
        assert_eq!(factor(f64::NAN, 1.0), "-");
    }

    #[test]
    fn a_built_server_runs_from_the_private_folder() {
        let (args, shown) = ROOM.args(Path::new("/kit"), Path::new("/tmp/b"));
        assert_eq!(args, ["--server", "/tmp/b/room"]);
        assert_eq!(shown, "--server target/release/room");
        assert!(
            BUILT.contains(&("chat", "room-helper")),
            "the room needs its helper"
        );
    }

    #[test]
    fn a_server_outside_the_grader_runs_by_its_full_path() {
        let (args, shown) = SERVERS[2].args(Path::new("/kit"), Path::new("/tmp/b"));
        assert_eq!(
            args,
            ["--server", "/kit/grader/tests/fixtures/server_ok.py"]
        );
        assert_eq!(shown, "--server grader/tests/fixtures/server_ok.py");
    }
}
