//! The results of `grader bench`, as a short table for people or as one
//! JSON object for scripts (the field names are the interface: keep them).
//! The same types read the JSON back (`cargo run -p xtask -- bench-report`).
//!
//! Every `server_*` figure is summed over the server and the processes it
//! started (`super::tree`); `server_processes` says how many there were.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Args;
use super::load::Outcome;

/// The open-file limits: the grader's soft limit before and after it made
/// room for its clients, its hard limit, and what the server was given.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Nofile {
    pub soft_before: u64,
    pub soft: u64,
    pub hard: u64,
    pub server: u64,
}

impl Nofile {
    pub fn raised(&self) -> bool {
        self.soft != self.soft_before
    }
}

/// What the server used during the measured run.
#[derive(Debug, Clone, Copy)]
pub struct ServerUse {
    pub peak_rss_kib: u64,
    pub processes: usize,
    pub cpu: Duration,
    pub exited: bool,
}

/// The results of a throughput run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throughput {
    /// The server's command line.
    pub server: String,
    pub clients: usize,
    pub senders: usize,
    pub messages: u64,
    /// Bytes per line sent, `\n` included.
    pub size: usize,
    /// Lines per second per sender, or null: as fast as the server takes
    /// them.
    pub rate: Option<u64>,
    /// Bench lines delivered to clients (duplicates included).
    pub deliveries: u64,
    /// What a correct server delivers: senders x messages x (clients - 1).
    pub expected_deliveries: u64,
    /// Deliveries per second, from the first send to the last delivery.
    pub deliveries_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// missing + duplicated + out_of_order.
    pub lost: u64,
    pub missing: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Lines that were not what any client sent: cut, wrongly tagged,
    /// unparsable, or echoed to their sender.
    pub corrupt: u64,
    /// The first corrupt line (its first 200 bytes, escaped), if any.
    pub first_corrupt: Option<String>,
    /// Clients whose connection the server closed during the run.
    pub disconnected: usize,
    /// The server and the processes it started, at the end of the run (0:
    /// it had exited). Absent from older results: read as 0.
    #[serde(default)]
    pub server_processes: usize,
    /// The sum of each process's own peak resident memory.
    pub server_peak_rss_kib: u64,
    pub server_cpu_s: f64,
    pub server_exited: bool,
    /// The grader's own CPU time during the run: near `wall_s`, the load
    /// generator had a whole core and may be what limits the figures.
    pub bench_cpu_s: f64,
    /// From the first send to the last delivery.
    pub wall_s: f64,
    /// From the first send to the end of the run (includes waiting for lines
    /// that never came).
    pub run_s: f64,
    /// complete, deadline, stalled or all connections closed.
    pub ended: String,
    pub nofile: Nofile,
}

fn ms(nanos: u64) -> f64 {
    (nanos as f64 / 1e6 * 1000.0).round() / 1000.0
}

impl Throughput {
    pub fn new(
        server: &str,
        args: &Args,
        outcome: &Outcome,
        server_use: ServerUse,
        bench_cpu: Duration,
        run: Duration,
        nofile: Nofile,
    ) -> Throughput {
        let wall = outcome.window.as_secs_f64();
        Throughput {
            server: server.to_owned(),
            clients: args.clients,
            senders: args.senders,
            messages: args.messages,
            size: args.size,
            rate: args.rate,
            deliveries: outcome.deliveries,
            expected_deliveries: outcome.expected,
            deliveries_per_sec: if wall > 0.0 {
                (outcome.deliveries as f64 / wall).round()
            } else {
                0.0
            },
            p50_ms: ms(outcome.latency.value_at_quantile(0.50)),
            p99_ms: ms(outcome.latency.value_at_quantile(0.99)),
            max_ms: ms(outcome.latency.max()),
            lost: outcome.lost(),
            missing: outcome.missing(),
            duplicated: outcome.duplicated,
            out_of_order: outcome.out_of_order,
            corrupt: outcome.corrupt,
            first_corrupt: outcome.first_corrupt.as_deref().map(harness::show),
            disconnected: outcome.closed,
            server_processes: server_use.processes,
            server_peak_rss_kib: server_use.peak_rss_kib,
            server_cpu_s: server_use.cpu.as_secs_f64(),
            server_exited: server_use.exited,
            bench_cpu_s: bench_cpu.as_secs_f64(),
            wall_s: wall,
            run_s: run.as_secs_f64(),
            ended: outcome.ended.as_str().to_owned(),
            nofile,
        }
    }

    /// Every line arrived exactly once, in order, intact.
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.corrupt == 0 && self.disconnected == 0 && !self.server_exited
    }
}

/// The results of an idle run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Idle {
    pub server: String,
    /// Always "idle": tells this object from a throughput run's.
    pub mode: String,
    /// Idle clients asked for (an observer client comes on top).
    pub connections: usize,
    /// Idle clients still connected once all had connected.
    pub connected: usize,
    /// The server and the processes it started, once the clients were in.
    /// Absent from older results: read as 0.
    #[serde(default)]
    pub server_processes: usize,
    /// Resident memory, summed: a page several processes share (the
    /// helper's code, say) counts once in each.
    pub server_rss_kib: u64,
    /// The sum of each process's own peak.
    pub server_peak_rss_kib: u64,
    /// Proportional memory (PSS), summed: a page shared by k processes
    /// counts 1/k in each, so once in all. Null where the kernel does not
    /// say (no /proc/PID/smaps_rollup).
    #[serde(default)]
    pub server_pss_kib: Option<u64>,
    /// Server CPU while the clients connected and got their join notices.
    pub server_cpu_s: f64,
    /// Server CPU over `idle_window_s` once everything was delivered.
    pub idle_cpu_s: f64,
    pub idle_window_s: f64,
    /// Seconds until every client was in the chat.
    pub connect_s: f64,
    /// Whether a line one client sent then reached another.
    pub served_line: bool,
    /// How connecting ended: complete (every client in and every join
    /// notice delivered), deadline (--timeout passed first), ...
    pub ended: String,
    pub nofile: Nofile,
}

impl Idle {
    /// Every client got in and got its join notices, and a line still went
    /// through.
    pub fn passed(&self) -> bool {
        self.served_line && self.connected == self.connections && self.ended == "complete"
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How many processes a memory figure sums, when more than the server's
/// own.
fn processes_note(processes: usize) -> String {
    if processes > 1 {
        format!(
            " (summed over {} processes: the server and those it started)",
            thousands(processes as u64)
        )
    } else {
        String::new()
    }
}

/// The table of a throughput run.
pub fn throughput_human(r: &Throughput) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "server: {}", r.server);
    let pace = match r.rate {
        Some(rate) => format!(
            ", {} lines/s each (offered: {} deliveries/s)",
            thousands(rate),
            thousands(rate * r.senders as u64 * (r.clients as u64 - 1))
        ),
        None => ", as fast as the server takes them".to_owned(),
    };
    let _ = writeln!(
        out,
        "load:   {} clients, {} of them send {} lines of {} bytes each{pace}",
        r.clients,
        r.senders,
        thousands(r.messages),
        r.size
    );
    let rows: Vec<(&str, String)> = vec![
        (
            "deliveries",
            format!(
                "{} of {}",
                thousands(r.deliveries),
                thousands(r.expected_deliveries)
            ),
        ),
        (
            "deliveries/s",
            thousands(r.deliveries_per_sec as u64).to_string(),
        ),
        (
            "latency",
            format!(
                "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                r.p50_ms, r.p99_ms, r.max_ms
            ),
        ),
        (
            "lost",
            format!(
                "{} (missing {}, duplicated {}, out of order {})",
                thousands(r.lost),
                thousands(r.missing),
                thousands(r.duplicated),
                thousands(r.out_of_order)
            ),
        ),
        (
            "corrupt",
            match &r.first_corrupt {
                Some(line) => format!("{} (the first: {line})", thousands(r.corrupt)),
                None => thousands(r.corrupt),
            },
        ),
        ("disconnected", r.disconnected.to_string()),
        (
            "server memory",
            format!(
                "{} KiB peak RSS{}",
                thousands(r.server_peak_rss_kib),
                processes_note(r.server_processes)
            ),
        ),
        ("server CPU", format!("{:.2} s", r.server_cpu_s)),
        ("bench CPU", format!("{:.2} s", r.bench_cpu_s)),
        ("wall", format!("{:.3} s ({})", r.wall_s, r.ended)),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:<14} {value}");
    }
    if r.bench_cpu_s > 0.9 * r.wall_s && r.wall_s > 0.0 {
        let _ = writeln!(
            out,
            "note: the bench's own client used a whole core: the figures may be its limit, \
             not the server's"
        );
    }
    let verdict = if r.passed() {
        "PASS: every line arrived exactly once and in order".to_owned()
    } else if r.server_exited {
        "FAIL: the server exited during the run".to_owned()
    } else {
        format!(
            "FAIL: {} lines lost, {} corrupt, {} clients disconnected ({})",
            thousands(r.lost),
            thousands(r.corrupt),
            r.disconnected,
            r.ended
        )
    };
    let _ = write!(out, "{verdict}");
    out
}

/// The table of an idle run.
pub fn idle_human(r: &Idle) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "server: {}", r.server);
    let _ = writeln!(
        out,
        "load:   {} idle clients and an observer",
        thousands(r.connections as u64)
    );
    let rows: Vec<(&str, String)> = vec![
        (
            "connected",
            format!(
                "{} of {} in {:.2} s ({})",
                thousands(r.connected as u64),
                thousands(r.connections as u64),
                r.connect_s,
                r.ended
            ),
        ),
        (
            "server memory",
            format!(
                "{} KiB RSS, {} KiB peak{}{}",
                thousands(r.server_rss_kib),
                thousands(r.server_peak_rss_kib),
                r.server_pss_kib
                    .map(|pss| format!(", {} KiB PSS", thousands(pss)))
                    .unwrap_or_default(),
                processes_note(r.server_processes)
            ),
        ),
        (
            "server CPU",
            format!("{:.2} s while connecting", r.server_cpu_s),
        ),
        (
            "idle CPU",
            format!("{:.3} s over {:.0} s", r.idle_cpu_s, r.idle_window_s),
        ),
        (
            "open files",
            format!(
                "grader soft limit {} (was {}), hard {}; server {}",
                r.nofile.soft, r.nofile.soft_before, r.nofile.hard, r.nofile.server
            ),
        ),
        (
            "still serves",
            if r.served_line { "yes" } else { "no" }.to_owned(),
        ),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:<14} {value}");
    }
    let verdict = if r.passed() {
        "PASS: every client connected, and a chat line still went through"
    } else {
        "FAIL: not every client got in (and got its join notices) in time, or the chat line \
         did not arrive"
    };
    let _ = write!(out, "{verdict}");
    out
}
