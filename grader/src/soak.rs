//! `grader soak`: hostile peers and sustained load against a server, each
//! case asserting that the server is still alive, that its memory stayed
//! bounded, and that the well-behaved clients got every line, and reporting
//! its figures.
//!
//! The cases are [`Check`]s of the part [`Part::Soak`], worth no points: the
//! grader's runner runs them (one at a time), their figures land in each
//! [`CheckResult`], and a failure reads as in every report.
//!
//! Cases (all on loopback, each bounded in time):
//! - `fd-flood`: connections until the server runs out of descriptors, and
//!   back: it keeps serving its clients, does not spin, accepts again;
//! - `long-lines`: 1 MiB and 100 MiB without a newline;
//! - `binary`: random bytes, newlines and all, from several peers;
//! - `resets`: peers that reset in the middle of writing, and while the
//!   server writes to them;
//! - `churn`: one peer connects and leaves 10000 times;
//! - `slowloris`: 100 peers sending one byte a second;
//! - `slow-consumer`: one peer stops reading while the others chat.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use chat::framing::LineBuffer;
use harness::show::show;
use harness::{Failure, Peer, PeerOptions, procfs};

use crate::catalog::{Check, Run};
use crate::context::{CheckContext, Config, Outcome};
use crate::launch::Server;
use crate::model::{CheckResult, Part, Report};
use crate::report;
use crate::runner::{self, Plan};
use crate::sandbox::Limits;

/// The most memory a server may hold at its peak in any case: the 1 MiB
/// limit per slow client, buffers, the program itself.
pub const RSS_LIMIT_KIB: usize = 64 * 1024;

/// How far a sender may get ahead of a reading observer (bytes): far below
/// what the kernel buffers for the observer plus the 1 MiB limit, so the
/// observer never looks slow to the server.
const AHEAD_BYTES: usize = 256 * 1024;

/// The longest wait for any one expected thing: soak cases move a lot of
/// data and wait on slow peers on purpose.
const STEP: Duration = Duration::from_secs(60);

/// The longest one case may take.
const CASE_LIMIT: Duration = Duration::from_secs(300);

/// What every case's failure points at: the server's own log, and the case
/// alone (`--case NAME`) to reproduce it.
const HINT: &str =
    "run the case alone (grader soak --case NAME) and read the server's stderr in the transcripts";

/// The cases, as checks of the part [`Part::Soak`]: worth no points, run by
/// the same runner as the graded checks (which catches a panic of the
/// grader's own) and reported through the same model.
pub static CASES: &[Check] = &[
    Check {
        name: "soak/fd-flood",
        part: Part::Soak,
        points: 0,
        description: "connections up to the file limit and back: keeps serving, no spinning, accepts again",
        hint: HINT,
        run: Run::Live(fd_flood),
    },
    Check {
        name: "soak/long-lines",
        part: Part::Soak,
        points: 0,
        description: "1 MiB and 100 MiB without a newline, forwarded in 4096-byte pieces",
        hint: HINT,
        run: Run::Live(long_lines),
    },
    Check {
        name: "soak/binary",
        part: Part::Soak,
        points: 0,
        description: "random bytes from several peers, framed exactly as the protocol says",
        hint: HINT,
        run: Run::Live(binary),
    },
    Check {
        name: "soak/resets",
        part: Part::Soak,
        points: 0,
        description: "peers that reset while writing, and while the server writes to them",
        hint: HINT,
        run: Run::Live(resets),
    },
    Check {
        name: "soak/churn",
        part: Part::Soak,
        points: 0,
        description: "one peer connects and leaves 10000 times; no descriptor leaks",
        hint: HINT,
        run: Run::Live(churn),
    },
    Check {
        name: "soak/slowloris",
        part: Part::Soak,
        points: 0,
        description: "100 peers send one byte a second while two others chat",
        hint: HINT,
        run: Run::Live(slowloris),
    },
    Check {
        name: "soak/slow-consumer",
        part: Part::Soak,
        points: 0,
        description: "one peer stops reading while the others exchange 32 MiB",
        hint: HINT,
        run: Run::Live(slow_consumer),
    },
];

/// The case called `name`, with or without its `soak/` prefix.
pub fn case(name: &str) -> Option<&'static Check> {
    CASES
        .iter()
        .find(|case| case.name == name || case.name.strip_prefix("soak/") == Some(name))
}

/// Runs the cases named in `only` (all when empty, in table order) against
/// `server`, one after the other (they measure CPU and memory: running them
/// together would blur the figures); `progress` sees each result.
///
/// # Panics
///
/// If a name in `only` is no case's: check them with [`case`] first.
pub fn run(
    server: PathBuf,
    reference: PathBuf,
    only: &[String],
    progress: &(dyn Fn(&CheckResult) + Sync),
) -> Report {
    let checks: Vec<&'static Check> = if only.is_empty() {
        CASES.iter().collect()
    } else {
        only.iter()
            .map(|name| case(name).expect("names checked by the caller"))
            .collect()
    };
    let started = Instant::now();
    let plan = Plan {
        config: Arc::new(Config {
            server: Some(server.clone()),
            client: None,
            helper: None,
            reference,
            step: STEP,
            check_limit: CASE_LIMIT,
            limits: Limits::SUBMISSION,
        }),
        checks,
        build_failure: None,
        wrapper_crate: None,
        jobs: 1,
    };
    let results = runner::run(&plan, progress);
    Report {
        submission: server.display().to_string(),
        results,
        duration: started.elapsed(),
    }
}

/// The server's figures and health, recorded at the end of every case.
fn finish(s: &CheckContext, server: &mut Server) -> Outcome {
    if let Some(status) = server.process.try_status() {
        return Err(Failure::new(format!("the server died: {status}")));
    }
    let peak = procfs::peak_rss_kib(server.pid()).map_err(proc_error)?;
    let cpu = procfs::cpu_ms(server.pid()).map_err(proc_error)?;
    s.figure(
        "server peak RSS",
        format!("{:.1} MiB", peak as f64 / 1024.0),
    );
    s.figure("server CPU", format!("{:.2} s", cpu as f64 / 1000.0));
    if peak > RSS_LIMIT_KIB {
        return Err(Failure {
            summary: "the server's memory was not bounded".into(),
            expected: Some(format!("a peak RSS under {} MiB", RSS_LIMIT_KIB / 1024)),
            seen: Some(format!("{:.1} MiB", peak as f64 / 1024.0)),
            ..Failure::default()
        });
    }
    Ok(())
}

fn proc_error(err: std::io::Error) -> Failure {
    Failure::new(format!("could not inspect the server in /proc: {err}"))
}

/// A and B exchange a line each way: the server still serves them (lines
/// and notices of other peers may arrive on the way).
fn still_chatting(a: &mut Peer<'_>, b: &mut Peer<'_>, text: &str) -> Outcome {
    a.send(format!("{text}\n"))?;
    expect_past_others(b, &a.tag, text)?;
    let reply = format!("{text}, too");
    b.send(format!("{reply}\n"))?;
    expect_past_others(a, &b.tag, &reply)
}

/// Waits for `[TAG] text` from the peer tagged `tag`, skipping what other
/// peers sent; anything else from that peer first is a failure.
fn expect_past_others(receiver: &Peer<'_>, tag: &str, text: &str) -> Outcome {
    let want = format!("{tag} {text}").into_bytes();
    let from_sender = format!("{tag} ").into_bytes();
    loop {
        let got = receiver.next_line()?;
        if got == want {
            return Ok(());
        }
        if got.starts_with(&from_sender) {
            return Err(Failure {
                summary: format!("{} received an unexpected line", receiver.name),
                expected: Some(show(&want)),
                seen: Some(show(&got)),
                ..Failure::default()
            });
        }
    }
}

/// What `relay_checked` saw.
struct Relayed {
    lines: usize,
    /// The other lines that arrived among the sender's: join and leave
    /// notices, other peers' lines.
    notices: Vec<Vec<u8>>,
}

/// `sender` sends `stream` while `reader` checks that the lines it gets are
/// those the protocol's framing makes of it (other peers' lines and notices
/// may come in between), never letting the sender get more
/// than AHEAD_BYTES ahead. A last unfinished line stays unsent as a line:
/// the sender's connection stays open.
fn relay_checked(
    sender: &mut Peer<'_>,
    reader: &Peer<'_>,
    stream: &[u8],
) -> Result<Relayed, Failure> {
    let mut expected = std::collections::VecDeque::new();
    let mut framing = LineBuffer::new();
    let mut relayed = Relayed {
        lines: 0,
        notices: Vec::new(),
    };
    let mut sent = 0;
    let prefix = format!("{} ", sender.tag).into_bytes();
    loop {
        let ahead: usize = expected.iter().map(Vec::len).sum();
        if sent < stream.len() && ahead < AHEAD_BYTES {
            let chunk = &stream[sent..(sent + 64 * 1024).min(stream.len())];
            sender.send_quietly(chunk)?;
            framing.push(chunk, |line| expected.push_back(line.to_vec()));
            sent += chunk.len();
            continue;
        }
        let Some(want) = expected.pop_front() else {
            return Ok(relayed);
        };
        let got = loop {
            let got = reader.next_line()?;
            if got.starts_with(&prefix) {
                break got;
            }
            relayed.notices.push(got);
        };
        if got.strip_prefix(&prefix[..]) != Some(&want[..]) {
            return Err(Failure {
                summary: format!("line {} from {} arrived wrong", relayed.lines, sender.name),
                expected: Some(show(&[&prefix[..], &want[..]].concat())),
                seen: Some(show(&got)),
                ..Failure::default()
            });
        }
        relayed.lines += 1;
    }
}

/// The server's descriptor limit in the `fd-flood` case.
const FLOOD_FD_LIMIT: u64 = 256;

fn fd_flood(s: &CheckContext) -> Outcome {
    let mut server = s.server_with(Limits {
        open_files: FLOOD_FD_LIMIT,
        ..s.config().limits
    })?;
    let pid = server.pid();
    let mut chat = s.peers(server.port, 2)?;
    // As many as the server can take, plus some that wait in the listen
    // backlog (more than the backlog holds could not even connect).
    const FLOOD: usize = FLOOD_FD_LIMIT as usize + 40;
    s.step(format!(
        "the server may open {FLOOD_FD_LIMIT} descriptors; {FLOOD} peers connect"
    ));
    let quiet = PeerOptions {
        reads: false,
        ..PeerOptions::default()
    };
    let flood: Vec<Peer<'_>> = (0..FLOOD)
        .map(|_| s.peer_with(server.port, quiet))
        .collect::<Result<_, _>>()?;
    // Each accepted newcomer is announced to A: wait on those notices until
    // every descriptor number below the limit is in use.
    let at_limit = || -> Result<bool, Failure> {
        let in_use = procfs::descriptors(pid).map_err(proc_error)?;
        Ok(in_use
            .iter()
            .filter(|(fd, _)| (*fd as u64) < FLOOD_FD_LIMIT)
            .count() as u64
            == FLOOD_FD_LIMIT)
    };
    while !at_limit()? {
        chat[0].next_line()?;
    }
    let sockets = procfs::tcp_socket_fds(pid).map_err(proc_error)?.len();
    s.figure(
        "flood peers accepted at the limit",
        format!("{} of {FLOOD}", sockets.saturating_sub(3)),
    );
    let (a, b) = chat.split_at_mut(1);
    still_chatting(&mut a[0], &mut b[0], "at the limit")?;
    let idle = procfs::busy_ms_while_idle(pid, Duration::from_secs(1)).map_err(proc_error)?;
    s.figure("busy in 1 s at the limit", format!("{idle} ms"));
    if idle > 100 {
        return Err(Failure {
            summary: "the server spins while it cannot accept".into(),
            expected: Some("under 100 ms of CPU in 1 s".into()),
            seen: Some(format!("{idle} ms")),
            ..Failure::default()
        });
    }
    // The flood leaves; then a newcomer must get in: the server accepts
    // again (past the waiting peers, which it accepts and sees leave).
    let started = Instant::now();
    drop(flood);
    let newcomer = s.peer(server.port)?;
    let joined = format!("{} (connected)", newcomer.tag).into_bytes();
    while a[0].next_line()? != joined {}
    s.figure(
        "a newcomer accepted after the flood",
        format!("{:.2} s later", started.elapsed().as_secs_f64()),
    );
    still_chatting(&mut a[0], &mut b[0], "after the flood")?;
    finish(s, &mut server)
}

fn long_lines(s: &CheckContext) -> Outcome {
    let mut server = s.server()?;
    let mut chat = s.peers(server.port, 2)?;
    let (a, b) = chat.split_at_mut(1);
    for (label, size) in [("1 MiB", 1 << 20), ("100 MiB", 100 << 20)] {
        s.step(format!("A sends {label} without a newline, then one"));
        let started = Instant::now();
        let mut stream = vec![b'L'; size];
        stream.push(b'\n');
        let lines = relay_checked(&mut a[0], &b[0], &stream)?.lines;
        let seconds = started.elapsed().as_secs_f64();
        s.figure(
            format!("{label} line"),
            format!(
                "{lines} pieces in {seconds:.2} s ({:.0} MiB/s)",
                size as f64 / (1 << 20) as f64 / seconds
            ),
        );
    }
    still_chatting(&mut a[0], &mut b[0], "after the long lines")?;
    finish(s, &mut server)
}

/// Deterministic pseudo-random bytes (xorshift), so a failure can be
/// reproduced.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // One byte in 32 is a newline, so lines of all lengths occur.
            if x.is_multiple_of(32) {
                b'\n'
            } else {
                (x >> 24) as u8
            }
        })
        .collect()
}

fn binary(s: &CheckContext) -> Outcome {
    let mut server = s.server()?;
    let mut chat = s.peers(server.port, 4)?;
    let observer = chat.remove(0);
    let mut total = 0;
    for (i, sender) in chat.iter_mut().enumerate() {
        let mut stream = random_bytes(0x5eed + i as u64, 4 << 20);
        stream.push(b'\n');
        s.step(format!("{} sends 4 MiB of random bytes", sender.name));
        total += relay_checked(sender, &observer, &stream)?.lines;
    }
    s.figure("lines of random bytes relayed exactly", total.to_string());
    finish(s, &mut server)
}

fn resets(s: &CheckContext) -> Outcome {
    let mut server = s.server()?;
    let mut chat = s.peers(server.port, 2)?;
    // 50 peers write half a line, then reset.
    s.step("50 peers each send half a line, then reset");
    for _ in 0..50 {
        let mut peer = s.peer_with(
            server.port,
            PeerOptions {
                reads: false,
                ..PeerOptions::default()
            },
        )?;
        peer.send_quietly(&[b'h'; 3000])?;
        peer.reset();
    }
    // 20 peers do not read while A sends 4 MiB, then reset with bytes
    // queued for them: the server's writes to them fail.
    s.step("20 peers read nothing while A sends 4 MiB, then reset");
    let stuck: Vec<Peer<'_>> = (0..20)
        .map(|_| {
            s.peer_with(
                server.port,
                PeerOptions {
                    receive_buffer: Some(4096),
                    reads: false,
                    ..PeerOptions::default()
                },
            )
        })
        .collect::<Result<_, _>>()?;
    let mut stream = Vec::with_capacity(4 << 20);
    while stream.len() < 4 << 20 {
        stream.extend_from_slice(&[b's'; 1000]);
        stream.push(b'\n');
    }
    let (a, b) = chat.split_at_mut(1);
    let lines = relay_checked(&mut a[0], &b[0], &stream)?.lines;
    for peer in stuck {
        peer.reset();
    }
    s.figure("lines relayed around the resets", lines.to_string());
    still_chatting(&mut a[0], &mut b[0], "after the resets")?;
    finish(s, &mut server)
}

fn churn(s: &CheckContext) -> Outcome {
    const VISITS: usize = 10_000;
    let mut server = s.server()?;
    let watcher = s.peer(server.port)?;
    let mut before = 0;
    s.step(format!("a peer connects and leaves {VISITS} times"));
    let started = Instant::now();
    for visit in 0..VISITS {
        if visit == 1 {
            // The first visit proves the watcher is in: count from here.
            before = procfs::descriptors(server.pid()).map_err(proc_error)?.len();
        }
        let visitor = s.peer_with(
            server.port,
            PeerOptions {
                reads: false,
                ..PeerOptions::default()
            },
        )?;
        let tag = visitor.tag.clone();
        watcher.expect_line(format!("{tag} (connected)"))?;
        visitor.close();
        watcher.expect_line(format!("{tag} (disconnected)"))?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = procfs::descriptors(server.pid()).map_err(proc_error)?.len();
    s.figure(
        "visits",
        format!(
            "{VISITS} in {seconds:.2} s ({:.0}/s)",
            VISITS as f64 / seconds
        ),
    );
    s.figure(
        "descriptors before and after",
        format!("{before} and {after}"),
    );
    if after > before {
        return Err(Failure {
            summary: "the server leaks descriptors".into(),
            expected: Some(format!("{before} descriptors")),
            seen: Some(after.to_string()),
            ..Failure::default()
        });
    }
    finish(s, &mut server)
}

fn slowloris(s: &CheckContext) -> Outcome {
    const PEERS: usize = 100;
    const SECONDS: usize = 5;
    let mut server = s.server()?;
    let mut chat = s.peers(server.port, 2)?;
    let mut slow: Vec<Peer<'_>> = (0..PEERS)
        .map(|_| {
            s.peer_with(
                server.port,
                PeerOptions {
                    reads: false,
                    ..PeerOptions::default()
                },
            )
        })
        .collect::<Result<_, _>>()?;
    s.step(format!(
        "{PEERS} peers send one byte a second for {SECONDS} s while A and B chat"
    ));
    let cpu_before = procfs::cpu_ms(server.pid()).map_err(proc_error)?;
    let (a, b) = chat.split_at_mut(1);
    let mut exchanged = 0;
    for second in 0..SECONDS {
        for peer in slow.iter_mut() {
            peer.send_quietly(b"z")?;
        }
        still_chatting(&mut a[0], &mut b[0], &format!("second {second}"))?;
        exchanged += 2;
        // Pacing, not synchronisation: slowloris is slow by definition.
        thread::sleep(Duration::from_secs(1));
    }
    let cpu = procfs::cpu_ms(server.pid()).map_err(proc_error)? - cpu_before;
    s.figure("lines exchanged meanwhile", exchanged.to_string());
    s.figure(format!("server CPU over {SECONDS} s"), format!("{cpu} ms"));
    // When they give up, their unfinished lines are forwarded.
    let tags: Vec<String> = slow.iter().map(|p| p.tag.clone()).collect();
    drop(slow);
    let mut partials = 0;
    let mut seen = std::collections::HashSet::new();
    while seen.len() < PEERS {
        let line = String::from_utf8_lossy(&b[0].next_line()?).into_owned();
        if let Some(tag) = line.strip_suffix(" (disconnected)") {
            seen.insert(tag.to_owned());
        } else if tags
            .iter()
            .any(|t| line == format!("{t} {}", "z".repeat(SECONDS)))
        {
            partials += 1;
        }
    }
    s.figure(
        "unfinished lines forwarded at their leave",
        format!("{partials} of {PEERS}"),
    );
    if partials != PEERS {
        return Err(Failure::new(format!(
            "only {partials} of {PEERS} unfinished lines were forwarded when their peers left"
        )));
    }
    finish(s, &mut server)
}

fn slow_consumer(s: &CheckContext) -> Outcome {
    let mut server = s.server()?;
    let mut chat = s.peers(server.port, 3)?;
    let slow = s.peer_with(
        server.port,
        PeerOptions {
            receive_buffer: Some(4096),
            reads: false,
            ..PeerOptions::default()
        },
    )?;
    for peer in &chat {
        peer.expect_join(&slow)?;
    }
    s.step("D reads nothing while A and B each send 16 MiB, which C reads");
    let mut line = vec![b'm'; 1023];
    line.push(b'\n');
    let stream: Vec<u8> = line.iter().copied().cycle().take(16 << 20).collect();
    let started = Instant::now();
    let (senders, readers) = chat.split_at_mut(2);
    let (mut lines, mut notices) = (0, Vec::new());
    for sender in senders.iter_mut() {
        let relayed = relay_checked(sender, &readers[0], &stream)?;
        lines += relayed.lines;
        notices.extend(relayed.notices);
    }
    let seconds = started.elapsed().as_secs_f64();
    s.figure(
        "lines relayed past the slow peer",
        format!("{lines} in {seconds:.2} s"),
    );
    let dropped = format!("{} (disconnected)", slow.tag).into_bytes();
    if !notices.contains(&dropped) {
        return Err(Failure {
            summary: "the peer that did not read was never disconnected".into(),
            expected: Some(show(&dropped)),
            seen: Some(format!(
                "notices: {:?}",
                notices.iter().map(|n| show(n)).collect::<Vec<_>>()
            )),
            ..Failure::default()
        });
    }
    finish(s, &mut server)
}

/// The report as text: one line per case with its figures, then each
/// failure as every report shows it.
pub fn human(report: &Report) -> String {
    let mut out = String::new();
    for result in &report.results {
        let mark = if result.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{mark}  {:<19} {:>6.1} s  {}",
            result.name,
            result.duration.as_secs_f64(),
            result.description
        );
        for (name, value) in &result.figures {
            let _ = writeln!(out, "        {name}: {value}");
        }
    }
    for result in report.failed() {
        if let Some(text) = report::failure_text(result) {
            let _ = writeln!(out, "\n--- {} ---", result.name);
            for line in text.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    let passed = report.results.len() - report.failed().count();
    let _ = writeln!(
        out,
        "\n{passed} of {} soak cases passed",
        report.results.len()
    );
    out
}

/// The report as one JSON object: whether every case passed, and each
/// case's figures and failure summary.
pub fn json(report: &Report) -> serde_json::Value {
    let cases: Vec<serde_json::Value> = report
        .results
        .iter()
        .map(|result| {
            let figures: serde_json::Map<String, serde_json::Value> = result
                .figures
                .iter()
                .map(|(name, value)| (name.clone(), value.clone().into()))
                .collect();
            serde_json::json!({
                "name": result.name,
                "passed": result.passed(),
                "seconds": result.duration.as_secs_f64(),
                "figures": figures,
                "failure": result.failure.as_ref().map(|f| f.summary.clone()),
            })
        })
        .collect();
    serde_json::json!({ "passed": report.all_passed(), "cases": cases })
}
