//! `grader soak`: hostile peers and sustained load against a server, each
//! case asserting that the server is still alive, that its memory stayed
//! bounded, and that the well-behaved clients got every line, and reporting
//! its figures.
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
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use chat::framing::LineBuffer;

use crate::model::Failure;
use harness::procfs;
use harness::{Peer, PeerOptions};

use crate::context::{CheckContext, Config, Outcome};
use crate::launch::Server;
use harness::show::show;

/// The most memory a server may hold at its peak in any case: the 1 MiB
/// limit per slow client, buffers, the program itself.
pub const RSS_LIMIT_KIB: usize = 64 * 1024;

/// How far a sender may get ahead of a reading observer (bytes): far below
/// what the kernel buffers for the observer plus the 1 MiB limit, so the
/// observer never looks slow to the server.
const AHEAD_BYTES: usize = 256 * 1024;

/// One soak case.
#[derive(Debug)]
pub struct Case {
    pub name: &'static str,
    pub description: &'static str,
    /// A smaller file-descriptor limit for the server, if the case needs one.
    fd_limit: Option<u64>,
    run: fn(&CheckContext, &mut Figures) -> Outcome,
}

/// What a case measured, in the order measured: (name, value).
pub type Figures = Vec<(String, String)>;

/// The outcome of one case.
#[derive(Debug)]
pub struct CaseResult {
    pub name: &'static str,
    pub description: &'static str,
    pub failure: Option<Failure>,
    pub figures: Figures,
    pub seconds: f64,
}

pub static CASES: &[Case] = &[
    Case {
        name: "fd-flood",
        description: "connections up to the file limit and back: keeps serving, no spinning, accepts again",
        fd_limit: Some(FLOOD_FD_LIMIT),
        run: fd_flood,
    },
    Case {
        name: "long-lines",
        description: "1 MiB and 100 MiB without a newline, forwarded in 4096-byte pieces",
        fd_limit: None,
        run: long_lines,
    },
    Case {
        name: "binary",
        description: "random bytes from several peers, framed exactly as the protocol says",
        fd_limit: None,
        run: binary,
    },
    Case {
        name: "resets",
        description: "peers that reset while writing, and while the server writes to them",
        fd_limit: None,
        run: resets,
    },
    Case {
        name: "churn",
        description: "one peer connects and leaves 10000 times; no descriptor leaks",
        fd_limit: None,
        run: churn,
    },
    Case {
        name: "slowloris",
        description: "100 peers send one byte a second while two others chat",
        fd_limit: None,
        run: slowloris,
    },
    Case {
        name: "slow-consumer",
        description: "one peer stops reading while the others exchange 32 MiB",
        fd_limit: None,
        run: slow_consumer,
    },
];

/// Runs the cases named in `only` (all when empty) against `config.server`,
/// one after the other (they measure CPU and memory: running them together
/// would blur the figures); `progress` sees each result.
pub fn run(config: Config, only: &[String], progress: &dyn Fn(&CaseResult)) -> Vec<CaseResult> {
    let config = Arc::new(Config {
        // Soak cases move a lot of data and wait on slow peers on purpose.
        step: Duration::from_secs(60),
        check_limit: Duration::from_secs(300),
        ..config
    });
    let mut results = Vec::new();
    for case in CASES
        .iter()
        .filter(|c| only.is_empty() || only.iter().any(|n| n == c.name))
    {
        let mut case_config = (*config).clone();
        if let Some(limit) = case.fd_limit {
            case_config.limits.open_files = limit;
        }
        let session = CheckContext::new(Arc::new(case_config));
        let mut figures = Figures::new();
        let started = Instant::now();
        let failure = (case.run)(&session, &mut figures)
            .err()
            .map(|failure| session.finish(failure));
        let result = CaseResult {
            name: case.name,
            description: case.description,
            failure,
            figures,
            seconds: started.elapsed().as_secs_f64(),
        };
        progress(&result);
        results.push(result);
    }
    results
}

/// The server's figures and health, recorded at the end of every case.
fn finish(server: &mut Server, figures: &mut Figures) -> Outcome {
    if let Some(status) = server.process.try_status() {
        return Err(Failure::new(format!("the server died: {status}")));
    }
    let peak = procfs::peak_rss_kib(server.pid()).map_err(proc_error)?;
    let cpu = procfs::cpu_ms(server.pid()).map_err(proc_error)?;
    figures.push((
        "server peak RSS".into(),
        format!("{:.1} MiB", peak as f64 / 1024.0),
    ));
    figures.push(("server CPU".into(), format!("{:.2} s", cpu as f64 / 1000.0)));
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

fn fd_flood(s: &CheckContext, figures: &mut Figures) -> Outcome {
    let mut server = s.server()?;
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
    figures.push((
        "flood peers accepted at the limit".into(),
        format!("{} of {FLOOD}", sockets.saturating_sub(3)),
    ));
    let (a, b) = chat.split_at_mut(1);
    still_chatting(&mut a[0], &mut b[0], "at the limit")?;
    let idle = procfs::busy_ms_while_idle(pid, Duration::from_secs(1)).map_err(proc_error)?;
    figures.push(("busy in 1 s at the limit".into(), format!("{idle} ms")));
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
    figures.push((
        "a newcomer accepted after the flood".into(),
        format!("{:.2} s later", started.elapsed().as_secs_f64()),
    ));
    still_chatting(&mut a[0], &mut b[0], "after the flood")?;
    finish(&mut server, figures)
}

fn long_lines(s: &CheckContext, figures: &mut Figures) -> Outcome {
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
        figures.push((
            format!("{label} line"),
            format!(
                "{lines} pieces in {seconds:.2} s ({:.0} MiB/s)",
                size as f64 / (1 << 20) as f64 / seconds
            ),
        ));
    }
    still_chatting(&mut a[0], &mut b[0], "after the long lines")?;
    finish(&mut server, figures)
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

fn binary(s: &CheckContext, figures: &mut Figures) -> Outcome {
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
    figures.push((
        "lines of random bytes relayed exactly".into(),
        total.to_string(),
    ));
    finish(&mut server, figures)
}

fn resets(s: &CheckContext, figures: &mut Figures) -> Outcome {
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
    figures.push(("lines relayed around the resets".into(), lines.to_string()));
    still_chatting(&mut a[0], &mut b[0], "after the resets")?;
    finish(&mut server, figures)
}

fn churn(s: &CheckContext, figures: &mut Figures) -> Outcome {
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
    figures.push((
        "visits".into(),
        format!(
            "{VISITS} in {seconds:.2} s ({:.0}/s)",
            VISITS as f64 / seconds
        ),
    ));
    figures.push((
        "descriptors before and after".into(),
        format!("{before} and {after}"),
    ));
    if after > before {
        return Err(Failure {
            summary: "the server leaks descriptors".into(),
            expected: Some(format!("{before} descriptors")),
            seen: Some(after.to_string()),
            ..Failure::default()
        });
    }
    finish(&mut server, figures)
}

fn slowloris(s: &CheckContext, figures: &mut Figures) -> Outcome {
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
    figures.push(("lines exchanged meanwhile".into(), exchanged.to_string()));
    figures.push((format!("server CPU over {SECONDS} s"), format!("{cpu} ms")));
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
    figures.push((
        "unfinished lines forwarded at their leave".into(),
        format!("{partials} of {PEERS}"),
    ));
    if partials != PEERS {
        return Err(Failure::new(format!(
            "only {partials} of {PEERS} unfinished lines were forwarded when their peers left"
        )));
    }
    finish(&mut server, figures)
}

fn slow_consumer(s: &CheckContext, figures: &mut Figures) -> Outcome {
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
    figures.push((
        "lines relayed past the slow peer".into(),
        format!("{lines} in {seconds:.2} s"),
    ));
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
    finish(&mut server, figures)
}

/// The results as text, one line per case with its figures, then each
/// failure in full.
pub fn human(results: &[CaseResult]) -> String {
    let mut out = String::new();
    for result in results {
        let mark = if result.failure.is_none() {
            "PASS"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            out,
            "{mark}  {:<14} {:>6.1} s  {}",
            result.name, result.seconds, result.description
        );
        for (name, value) in &result.figures {
            let _ = writeln!(out, "        {name}: {value}");
        }
    }
    for result in results {
        if let Some(failure) = &result.failure {
            let _ = writeln!(out, "\n--- {} ---\n  {}", result.name, failure.summary);
            if let Some(expected) = &failure.expected {
                let _ = writeln!(out, "  expected: {expected}");
            }
            if let Some(seen) = &failure.seen {
                let _ = writeln!(out, "  seen:     {seen}");
            }
            let steps = &failure.steps;
            for (i, step) in steps.iter().enumerate() {
                // The first and the last steps tell the story.
                if i == 20 && steps.len() > 30 {
                    let _ = writeln!(out, "  ... {} steps ...", steps.len() - 30);
                }
                if i < 20 || i + 10 >= steps.len() {
                    let _ = writeln!(out, "  {}. {step}", i + 1);
                }
            }
        }
    }
    let passed = results.iter().filter(|r| r.failure.is_none()).count();
    let _ = writeln!(out, "\n{passed} of {} soak cases passed", results.len());
    out
}

/// The results as one JSON object.
pub fn json(results: &[CaseResult]) -> serde_json::Value {
    serde_json::json!({
        "passed": results.iter().all(|r| r.failure.is_none()),
        "cases": results.iter().map(|r| serde_json::json!({
            "name": r.name,
            "passed": r.failure.is_none(),
            "seconds": r.seconds,
            "figures": r.figures.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "failure": r.failure.as_ref().map(|f| f.summary.clone()),
        })).collect::<Vec<_>>(),
    })
}
