//! `grader bench`: how well a chat server does its job under load.
//!
//! It starts the server contained like any submission's process, connects
//! many raw TCP clients driven by one event loop ([`load`]), and measures:
//!
//! - **throughput mode** (the default): K of N clients send M lines each as
//!   fast as the server takes them; every client checks that it gets every
//!   other client's lines exactly once and in order per sender, and the
//!   latency of each delivery from the timestamp inside the line. A run that
//!   loses a line is a failure (exit status 1), not a speed.
//! - **idle mode** (`--idle N`): N clients connect and stay; what the server
//!   holds them with (memory, CPU), and whether it still serves a chat line.
//!
//! The server's memory and CPU are those of the server and every process it
//! started, summed ([`tree`]): lab 2's room runs a helper process per
//! client, and measured alone its parent would look nearly free.
//!
//! [`report`] renders the results as a table or as one JSON object.

pub mod load;
pub mod report;
pub mod tree;

use std::io::{self, IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::ValueEnum;

use crate::launch::submission_env;
use crate::sandbox::{self, Contained, Limits};
use harness::process::ready_port;
use harness::{Inbox, procfs};
use tree::TreeUse;

use load::{Ended, Load, Role};
use report::{Idle, Nofile, Throughput};

/// `grader bench`'s command line.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The server to measure, any executable that follows the protocol: it
    /// is started as `EXE [ARGS...] 0`.
    #[arg(long, value_name = "EXE", required_unless_present = "reference")]
    pub server: Option<PathBuf>,
    /// Measure the reference server built into the grader
    /// (`grader reference-server`).
    #[arg(long, conflicts_with = "server")]
    pub reference: bool,
    /// How many clients connect.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub clients: usize,
    /// How many of them send.
    #[arg(long, default_value_t = 10, value_name = "K")]
    pub senders: usize,
    /// How many lines each sender sends.
    #[arg(long, default_value_t = 10_000, value_name = "M")]
    pub messages: u64,
    /// The size of each line in bytes, its `\n` included.
    #[arg(long, default_value_t = 64, value_name = "BYTES")]
    pub size: usize,
    /// Lines per second each sender sends (default: as fast as the server
    /// takes them). Paced, a line's latency counts from when it was due, so
    /// a server that falls behind the offered load shows it.
    #[arg(long, value_name = "LINES", value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,
    /// Idle mode: connect N clients that send nothing, then report what the
    /// server holds them with and whether it still serves a chat line.
    #[arg(long, value_name = "N", conflicts_with_all = ["clients", "senders", "messages", "size", "rate"])]
    pub idle: Option<usize>,
    /// human (a table) or json (one object, for scripts and leaderboards).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// The longest the measured part may take, in seconds: lines not
    /// delivered by then count as lost.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub timeout: u64,
    /// The longest to wait for the server's readiness line, in seconds.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub ready_timeout: u64,
    /// Arguments for the server, before the port (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    pub server_args: Vec<String>,
}

/// How results are printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// Why the bench could not run (exit status 2). Lost lines are not an
/// error: they are a result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The arguments ask for something the bench cannot do.
    #[error("{0}")]
    Usage(String),
    /// The server did not start, did not become ready, or did not let the
    /// clients in.
    #[error("{0}")]
    Server(String),
    /// A system call of the bench itself failed.
    #[error("{doing}: {source}")]
    Io { doing: String, source: io::Error },
}

/// Adds what the bench was doing to an `io::Error`.
trait Doing<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> Doing<T> for io::Result<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Io {
            doing: what(),
            source,
        })
    }
}

/// The longest a sending run goes on with nothing sent or received: a
/// server that is still delivering never pauses this long, so the lines not
/// delivered by then never will be.
const STALL: Duration = Duration::from_secs(3);

/// Clients connect in batches of this many, each batch only once the
/// previous one is in the chat, so the server's accept backlog (128 in many
/// servers) never overflows and turns a connect into a one-second SYN
/// retry.
const BATCH: usize = 64;

/// Descriptors the server needs besides those of its clients: standard
/// streams, listener, epoll, a signal descriptor, an interpreter's own.
const SERVER_SPARE_FILES: u64 = 64;

/// Descriptors the server may hold per client: lab 1's server holds the
/// client's socket; lab 2's room holds the two pipes to the client's
/// helper (and the socket, for a moment, while it starts the helper).
const SERVER_FILES_PER_CLIENT: u64 = 2;

/// Descriptors the grader needs besides its clients' sockets.
const OWN_SPARE_FILES: u64 = 32;

/// How often progress is shown.
const TICK: Duration = Duration::from_millis(250);

/// The window over which an idle server's CPU use is measured: a
/// measurement over a fixed time, not a wait for an event.
const IDLE_WINDOW: Duration = Duration::from_secs(1);

/// Runs `grader bench` and returns its exit status: 0 nothing lost, 1 lines
/// lost (or, idle, the server stopped serving), 2 could not run.
pub fn main(args: Args) -> ExitCode {
    let code = match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            clear_progress();
            eprintln!("grader bench: {err}");
            ExitCode::from(2)
        }
    };
    sandbox::cleanup();
    code
}

/// Runs the bench and prints its results; returns whether it passed.
pub fn run(args: &Args) -> Result<bool, Error> {
    let setup = match args.idle {
        Some(idle) => Setup::idle(args, idle)?,
        None => Setup::throughput(args)?,
    };
    sandbox::install().doing(|| "prepare to contain the server".into())?;
    let nofile = raise_nofile(setup.own_files, args.idle.is_some())?;
    if nofile.raised() && args.format == Format::Human {
        eprintln!(
            "grader bench: raised the open-file limit (RLIMIT_NOFILE) from {} to {} for {} \
             connections",
            nofile.soft_before, nofile.soft, setup.clients
        );
    }
    let (exe, mut server_args) = match &args.server {
        Some(exe) => (
            std::path::absolute(exe).doing(|| format!("resolve {}", exe.display()))?,
            args.server_args.clone(),
        ),
        None => {
            let me = std::env::current_exe().doing(|| "find the grader's own executable".into())?;
            let mut reference_args = vec!["reference-server".to_owned()];
            reference_args.extend(args.server_args.iter().cloned());
            (me, reference_args)
        }
    };
    server_args.push("0".into());
    let shown = std::iter::once(exe.display().to_string())
        .chain(server_args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let server_files =
        (setup.clients as u64 * SERVER_FILES_PER_CLIENT + SERVER_SPARE_FILES).min(nofile.hard);
    let limits = Limits {
        // Enough CPU for the whole run, whatever the server's speed; the
        // deadline stops a run long before.
        cpu_seconds: args.timeout + 120,
        memory_bytes: 4 << 30,
        open_files: server_files,
        // A process per client (lab 2's room) on top of a submission's
        // usual allowance. RLIMIT_NPROC counts every process of the user,
        // so the allowance is the margin for the others.
        processes: Limits::SUBMISSION.processes + setup.clients as u64,
        ..Limits::SUBMISSION
    };
    let mut command = Command::new(&exe);
    command.args(&server_args);
    let server = BenchServer::start(
        command,
        &shown,
        limits,
        Duration::from_secs(args.ready_timeout),
    )?;
    let nofile = Nofile {
        server: server_files,
        ..nofile
    };
    match args.idle {
        Some(idle) => {
            let result = idle_run(&server, &shown, idle, nofile, args)?;
            print(args.format, &result, report::idle_human)?;
            Ok(result.passed())
        }
        None => {
            let result = throughput_run(&server, &shown, args, nofile)?;
            print(args.format, &result, report::throughput_human)?;
            Ok(result.passed())
        }
    }
}

/// What a run needs, checked before anything starts.
struct Setup {
    clients: usize,
    own_files: u64,
}

impl Setup {
    fn throughput(args: &Args) -> Result<Setup, Error> {
        let usage = |why: String| Err(Error::Usage(why));
        if args.clients < 2 {
            return usage(format!(
                "--clients {}: a chat needs at least 2 clients",
                args.clients
            ));
        }
        if args.senders == 0 || args.senders > args.clients {
            return usage(format!(
                "--senders {}: between 1 and --clients ({})",
                args.senders, args.clients
            ));
        }
        if args.messages == 0 || args.messages > u64::from(u32::MAX) {
            return usage(format!(
                "--messages {}: between 1 and {}",
                args.messages,
                u32::MAX
            ));
        }
        // The server forwards at most 4096 bytes of text as one line; a
        // longer one arrives in pieces, which the bench cannot tell apart
        // from a server that cuts lines.
        let min = load::min_line_size(args.senders, args.messages);
        if args.size < min || args.size > 4097 {
            return usage(format!(
                "--size {}: between {min} (the sender, sequence number and timestamp must fit) \
                 and 4097 (4096 bytes of text and the newline)",
                args.size
            ));
        }
        // One bit per (receiver, sender, line) says whether it arrived.
        let bits = args.clients as u128 * args.senders as u128 * u128::from(args.messages);
        if bits > 1 << 34 {
            return usage(format!(
                "{} clients x {} senders x {} messages is more than 2 GiB of bookkeeping: \
                 measure a smaller run",
                args.clients, args.senders, args.messages
            ));
        }
        if args.timeout == 0 || args.ready_timeout == 0 {
            return usage("--timeout and --ready-timeout must be at least 1 second".into());
        }
        Ok(Setup {
            clients: args.clients,
            own_files: args.clients as u64 + OWN_SPARE_FILES,
        })
    }

    fn idle(args: &Args, idle: usize) -> Result<Setup, Error> {
        if idle < 2 {
            return Err(Error::Usage(format!(
                "--idle {idle}: at least 2 clients (one of them sends the test line)"
            )));
        }
        if args.timeout == 0 || args.ready_timeout == 0 {
            return Err(Error::Usage(
                "--timeout and --ready-timeout must be at least 1 second".into(),
            ));
        }
        // The idle clients and the observer.
        let clients = idle + 1;
        Ok(Setup {
            clients,
            own_files: clients as u64 + OWN_SPARE_FILES,
        })
    }
}

/// Makes room for `needed` open descriptors in the grader itself: raises
/// the soft RLIMIT_NOFILE to the hard limit if it is lower than needed (or,
/// with `always`, in any case). More than the hard limit allows is a usage
/// error.
fn raise_nofile(needed: u64, always: bool) -> Result<Nofile, Error> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error()).doing(|| "read RLIMIT_NOFILE".into());
    }
    let (soft, hard) = (limit.rlim_cur, limit.rlim_max);
    if needed > hard {
        return Err(Error::Usage(format!(
            "{needed} open descriptors are needed, but the hard limit (RLIMIT_NOFILE, \
             `ulimit -Hn`) is {hard}: ask for fewer connections, or raise the hard limit"
        )));
    }
    let mut nofile = Nofile {
        soft_before: soft,
        soft,
        hard,
        server: 0,
    };
    if needed > soft || (always && soft < hard) {
        limit.rlim_cur = hard;
        // SAFETY: `limit` is a valid rlimit; raising the soft limit up to
        // the hard one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error())
                .doing(|| format!("raise RLIMIT_NOFILE from {soft} to {hard}"));
        }
        nofile.soft = hard;
    }
    Ok(nofile)
}

/// The server being measured, its port known from its readiness line.
struct BenchServer {
    process: Contained,
    addr: SocketAddr,
    stderr: Inbox,
}

impl BenchServer {
    /// Starts the server, contained (its own process group, limits), and
    /// waits for its readiness line until `ready_within` has passed. Like
    /// `launch::Server::start`, without a check's context around it.
    fn start(
        mut command: Command,
        shown: &str,
        limits: Limits,
        ready_within: Duration,
    ) -> Result<BenchServer, Error> {
        submission_env(&mut command);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = Contained::spawn(&mut command, limits)
            .map_err(|err| Error::Server(format!("could not start the server ({shown}): {err}")))?;
        let child = process.child_mut();
        let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(Error::Server("the server's output was not piped".into()));
        };
        // Read both streams to the end in the background, keeping only a
        // transcript: a server that logs every connection must never block
        // on a full pipe, and the grader's memory stays bounded.
        let stdout = Inbox::spawn("the server's stdout", out);
        let stderr = Inbox::spawn("the server's stderr", err);
        stderr.transcript_only();
        let port = ready_port("the server", &stdout, Instant::now() + ready_within).map_err(
            |failure| {
                Error::Server(format!(
                    "the server ({shown}) did not start within {} s: {}{}; its stderr: {}",
                    ready_within.as_secs(),
                    failure.summary,
                    failure
                        .seen
                        .map(|seen| format!(" (its first line: {seen})"))
                        .unwrap_or_default(),
                    last_lines(&stderr)
                ))
            },
        )?;
        stdout.transcript_only();
        Ok(BenchServer {
            process,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            stderr,
        })
    }

    fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The CPU time of the server and every process it started.
    fn cpu_ms(&self) -> Result<u64, Error> {
        tree::cpu_ms(self.pid()).doing(|| "read the server's CPU time from /proc".into())
    }

    /// The processes, CPU time and memory of the server and every process
    /// it started.
    fn usage(&self) -> Result<TreeUse, Error> {
        tree::usage(self.pid()).doing(|| "read the server's memory from /proc".into())
    }

    /// The CPU time the server (with every process it started) uses over
    /// `window`: a measurement over a fixed time, not a wait for an event.
    fn cpu_ms_over(&self, window: Duration) -> Result<u64, Error> {
        let before = self.cpu_ms()?;
        std::thread::sleep(window);
        Ok(self.cpu_ms()?.saturating_sub(before))
    }

    fn exited(&self) -> bool {
        procfs::has_exited(self.pid())
    }
}

/// The CPU time the grader itself (every thread of it) has used.
fn own_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Connects clients in batches until `load` has `total`, each batch only
/// once the server has let the previous ones in, as `admitted` tells.
/// Returns `Ended::Done` once all are in, or why it stopped short.
fn connect_all(
    load: &mut Load,
    server: &BenchServer,
    total: usize,
    role: &dyn Fn(usize) -> Role,
    admitted: &dyn Fn(&Load) -> bool,
    until: Instant,
    progress: &mut dyn FnMut(&Load),
) -> Result<Ended, Error> {
    while load.clients() < total {
        let batch = BATCH.min(total - load.clients());
        for _ in 0..batch {
            let index = load.clients();
            load.connect(1, role(index), until)
                .doing(|| format!("connect client {} to {}", index + 1, server.addr))?;
        }
        let ended = load
            .run_until(until, None, admitted, TICK, progress)
            .doing(|| "wait for the server to admit the clients".into())?;
        if ended != Ended::Done {
            return Ok(ended);
        }
    }
    Ok(Ended::Done)
}

/// The error of a run whose clients the server did not all let in.
fn not_admitted(load: &Load, server: &BenchServer, total: usize, ended: Ended) -> Error {
    let why = match ended {
        Ended::AllClosed => "it closed every connection".to_owned(),
        _ if server.exited() => "it exited".to_owned(),
        _ => "in time".to_owned(),
    };
    Error::Server(format!(
        "the server did not announce every client that connected ({} of {} clients \
         connected; {} join notices seen): {why}; its stderr: {}",
        load.clients(),
        total,
        load.joins_total(),
        last_lines(&server.stderr)
    ))
}

/// The throughput run.
fn throughput_run(
    server: &BenchServer,
    shown: &str,
    args: &Args,
    nofile: Nofile,
) -> Result<Throughput, Error> {
    let live = io::stderr().is_terminal();
    let n = args.clients;
    let mut load = Load::new(
        server.addr,
        args.senders,
        args.messages,
        args.size,
        args.rate,
    )
    .doing(|| "set up the clients' event loop".into())?;
    // Every pair of clients makes exactly one join notice (to the one that
    // was there first), whatever order the server accepts them in: so once
    // n(n-1)/2 have arrived, every client is in the chat.
    let all_joined = |load: &Load| {
        let c = load.clients() as u64;
        load.joins_total() >= c * (c - 1) / 2
    };
    let setup_until = Instant::now() + Duration::from_secs(args.timeout.min(120));
    let mut connecting = |load: &Load| {
        if live {
            show_progress(&format!("connected {} of {n} clients", load.clients()));
        }
    };
    let ended = connect_all(
        &mut load,
        server,
        n,
        &|_| Role::Parse,
        &all_joined,
        setup_until,
        &mut connecting,
    )?;
    if ended != Ended::Done {
        return Err(not_admitted(&load, server, n, ended));
    }
    let cpu_before = server.cpu_ms()?;
    let own_before = own_cpu();
    load.start_sending().doing(|| "start the senders".into())?;
    let expected = load.expected();
    let mut last = (Duration::ZERO, 0u64);
    let mut progress = |load: &Load| {
        if live {
            let (elapsed, delivered) = (load.elapsed(), load.deliveries());
            let rate = (delivered - last.1) as f64 / (elapsed - last.0).as_secs_f64().max(1e-9);
            last = (elapsed, delivered);
            show_progress(&format!(
                "{delivered} of {expected} deliveries ({:.0}%), {} per second",
                delivered as f64 * 100.0 / expected as f64,
                report::thousands(rate as u64),
            ));
        }
    };
    let ended = load
        .run_until(
            Instant::now() + Duration::from_secs(args.timeout),
            Some(STALL),
            &|load| load.all_delivered(),
            TICK,
            &mut progress,
        )
        .doing(|| "run the clients' event loop".into())?;
    let own_cpu_used = own_cpu().saturating_sub(own_before);
    let elapsed = load.elapsed();
    let outcome = load.outcome(ended);
    let server_exited = server.exited();
    // A server that died has no /proc entry to read any more.
    let (cpu_after, used) = if server_exited {
        (cpu_before, TreeUse::default())
    } else {
        let used = server.usage()?;
        (used.cpu_ms, used)
    };
    clear_progress();
    if server_exited {
        eprintln!(
            "grader bench: the server exited during the run; its stderr: {}",
            last_lines(&server.stderr)
        );
    }
    Ok(Throughput::new(
        shown,
        args,
        &outcome,
        report::ServerUse {
            peak_rss_kib: used.peak_rss_kib,
            processes: used.processes,
            cpu: Duration::from_millis(cpu_after.saturating_sub(cpu_before)),
            exited: server_exited,
        },
        own_cpu_used,
        elapsed,
        nofile,
    ))
}

/// The idle run: an observer connects first and counts every join; the
/// idle clients connect in batches and only drain what arrives.
fn idle_run(
    server: &BenchServer,
    shown: &str,
    idle: usize,
    nofile: Nofile,
    args: &Args,
) -> Result<Idle, Error> {
    let format = args.format;
    let live = io::stderr().is_terminal();
    let mut load =
        Load::new(server.addr, 0, 0, 0, None).doing(|| "set up the clients' event loop".into())?;
    let started = Instant::now();
    let cpu_before = server.cpu_ms()?;
    // The whole connecting phase shares one deadline, --timeout: every join
    // goes to every client, n^2/2 notices in all.
    let until = started + Duration::from_secs(args.timeout);
    let mut connecting = |load: &Load| {
        if live {
            show_progress(&format!(
                "connected {} of {idle} idle clients",
                load.clients().saturating_sub(1)
            ));
        }
    };
    // Client 0, the observer, has seen a join for every client after it.
    let admitted = |load: &Load| load.joins(0) + 1 >= load.clients() as u64;
    // A server too slow to let them all in by the deadline is a result
    // (how many it took, what it used), not a bench that could not run.
    let mut ended = connect_all(
        &mut load,
        server,
        idle + 1,
        &|i| if i == 0 { Role::Parse } else { Role::Count },
        &admitted,
        until,
        &mut connecting,
    )?;
    // Those the observer saw join and whose connection is still open.
    let connected = (load.joins(0) as usize)
        .min(load.open().saturating_sub(1))
        .min(idle);
    let connect_time = started.elapsed();
    if ended == Ended::Done {
        // Let the server finish sending the join notices to everyone (idle
        // client i gets one from each client after it), so that it is idle.
        let c = load.clients() as u64;
        let notices = (c - 1) * (c - 2) / 2 + (c - 1);
        let drained = |load: &Load| load.lines_total() >= notices;
        ended = load
            .run_until(until, None, &drained, TICK, &mut connecting)
            .doing(|| "receive the join notices".into())?;
        if ended != Ended::Done && format == Format::Human {
            clear_progress();
            eprintln!(
                "grader bench: the clients received {} of the {notices} join notices",
                load.lines_total(),
            );
        }
    }
    clear_progress();
    if server.exited() {
        eprintln!(
            "grader bench: the server exited; its stderr: {}",
            last_lines(&server.stderr)
        );
        return Ok(Idle {
            server: shown.to_owned(),
            mode: "idle".into(),
            connections: idle,
            connected: 0,
            server_processes: 0,
            server_rss_kib: 0,
            server_peak_rss_kib: 0,
            server_pss_kib: None,
            server_cpu_s: 0.0,
            idle_cpu_s: 0.0,
            idle_window_s: 0.0,
            connect_s: connect_time.as_secs_f64(),
            served_line: false,
            ended: "server exited".into(),
            nofile,
        });
    }
    let used = server.usage()?;
    let cpu_connecting = used.cpu_ms.saturating_sub(cpu_before);
    let idle_cpu = server.cpu_ms_over(IDLE_WINDOW)?;
    // Does it still serve? Client 1 sends a line; the observer must get it.
    load.send_probe(1).doing(|| "send the test line".into())?;
    let probe_until = Instant::now() + Duration::from_secs(30);
    load.run_until(
        probe_until,
        None,
        &|load| load.probe_seen(),
        TICK,
        &mut |_| {},
    )
    .doing(|| "wait for the test line".into())?;
    Ok(Idle {
        server: shown.to_owned(),
        mode: "idle".into(),
        connections: idle,
        connected,
        server_processes: used.processes,
        server_rss_kib: used.rss_kib,
        server_peak_rss_kib: used.peak_rss_kib.max(used.rss_kib),
        server_pss_kib: used.pss_kib,
        server_cpu_s: cpu_connecting as f64 / 1000.0,
        idle_cpu_s: idle_cpu as f64 / 1000.0,
        idle_window_s: IDLE_WINDOW.as_secs_f64(),
        connect_s: connect_time.as_secs_f64(),
        served_line: load.probe_seen(),
        ended: ended.as_str().into(),
        nofile,
    })
}

fn print<T: serde::Serialize>(
    format: Format,
    result: &T,
    human: fn(&T) -> String,
) -> Result<(), Error> {
    let text = match format {
        Format::Human => human(result),
        Format::Json => serde_json::to_string_pretty(result)
            .map_err(io::Error::other)
            .doing(|| "write the results as JSON".into())?,
    };
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .doing(|| "write the results".into())
}

/// The last few lines a server wrote to a stream, for an error message (a
/// server that logs every connection has written thousands).
fn last_lines(stream: &Inbox) -> String {
    const SHOWN: usize = 8;
    let transcript = stream.transcript();
    let lines: Vec<&str> = transcript.lines().collect();
    if lines.len() <= SHOWN {
        return transcript;
    }
    format!("(...)\n{}", lines[lines.len() - SHOWN..].join("\n"))
}

/// Shows one line of progress on a terminal, in place.
fn show_progress(text: &str) {
    eprint!("\r\x1b[2K{text}");
}

/// Removes the progress line (when stderr is a terminal).
fn clear_progress() {
    if io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}
