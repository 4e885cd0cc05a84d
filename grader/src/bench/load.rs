//! The client side of `grader bench`: many raw TCP clients of one chat
//! server, driven by one epoll event loop of our own (non-blocking sockets,
//! no thread per client), and the tally of what they receive.
//!
//! The load generator shares the machine with the server it measures, so it
//! is built to cost little per line: one shared read buffer, a small
//! partial-line buffer per client, lines parsed in place without allocating,
//! latencies in a fixed-size histogram, and "was this line seen" as one bit.
//!
//! Its epoll set is driven through the lab's own wrapper, `chat::w_epoll`,
//! and `chat::sys` (the reference solution, which the grader builds in):
//! level-triggered, as the bench's one-read-per-event fairness needs, and
//! with the descriptor as each event's data, so [`Load`] keeps a table from
//! descriptor to client. (mio would give tokens, but only edge-triggered
//! events, and one more crate.)

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use chat::sys::{self, check};
use chat::w_epoll::{
    NO_EVENT, event_fd, is_readable, is_writable, w_epoll_add_fd_in, w_epoll_del_fd,
    w_epoll_update_fd,
};
use hdrhistogram::Histogram;
use libc::{c_int, epoll_event};

/// How a client's input is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Every line is parsed: join notices counted, bench lines checked.
    Parse,
    /// Lines are only counted, and the socket is read by a sweep every
    /// [`SWEEP`] rather than whenever it is readable: the idle clients of
    /// `--idle`, which receive every later client's join notice. A server
    /// that writes each notice on its own would otherwise cost the bench one
    /// read per notice (N²/2 of them); a sweep reads all that has queued up
    /// in one go, as a real client that is busy elsewhere would.
    Count,
}

/// Why a run of the event loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// What it waited for happened.
    Done,
    /// The deadline passed first.
    Deadline,
    /// Nothing was sent or received for the stall time: the server delivers
    /// nothing more.
    Stalled,
    /// Every client's connection was closed (the server died, say).
    AllClosed,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Done => "complete",
            Ended::Deadline => "deadline",
            Ended::Stalled => "stalled",
            Ended::AllClosed => "all connections closed",
        }
    }
}

/// The size of the one buffer every read goes into.
const READ_BUF: usize = 256 * 1024;

/// A sender generates lines in chunks of about this size, just before it
/// writes them, so a line's timestamp is at most one chunk older than its
/// write.
const SEND_CHUNK: usize = 4096;

/// The longest unfinished line a client keeps. The server's lines are
/// shorter than this (4096 bytes of text plus a tag); anything longer is
/// corrupt and is dropped rather than kept growing.
const MAX_PARTIAL: usize = 16 * 1024;

/// How often the `Role::Count` clients are read.
const SWEEP: Duration = Duration::from_millis(100);

/// The most events one `epoll_wait` returns.
const MAX_EVENTS: usize = 1024;

/// The text of the line the idle mode sends to see that the server still
/// serves chat lines.
pub const PROBE: &[u8] = b"grader bench: still there?";

/// An epoll instance (`chat::sys::epoll_create`) and the buffer
/// `epoll_wait` fills. Descriptors go in and out through `chat::w_epoll`.
#[derive(Debug)]
struct Poller {
    epoll: OwnedFd,
    events: Vec<epoll_event>,
}

impl Poller {
    fn new() -> io::Result<Poller> {
        Ok(Poller {
            epoll: sys::epoll_create()?,
            events: vec![NO_EVENT; MAX_EVENTS],
        })
    }

    /// Watches `fd` for reading.
    fn add(&self, fd: RawFd) -> io::Result<()> {
        check(
            w_epoll_add_fd_in(self.epoll.as_raw_fd(), fd),
            "add a descriptor to the bench's epoll set",
        )?;
        Ok(())
    }

    /// Watches `fd` for reading, and for writing too if `writable`.
    fn watch_writable(&self, fd: RawFd, writable: bool) -> io::Result<()> {
        let events = if writable {
            libc::EPOLLIN | libc::EPOLLOUT
        } else {
            libc::EPOLLIN
        };
        check(
            w_epoll_update_fd(self.epoll.as_raw_fd(), fd, events),
            "change what the bench's epoll set watches",
        )?;
        Ok(())
    }

    /// Stops watching `fd`.
    fn remove(&self, fd: RawFd) -> io::Result<()> {
        check(
            w_epoll_del_fd(self.epoll.as_raw_fd(), fd),
            "remove a descriptor from the bench's epoll set",
        )?;
        Ok(())
    }

    /// Waits at most `timeout`; returns how many events are in `events`.
    fn wait(&mut self, timeout: Duration) -> io::Result<usize> {
        // Round up, so that a wait of 0.3 ms does not become a busy loop of
        // zero-millisecond waits.
        let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as c_int;
        // SAFETY: `events` is a writable buffer of `events.len()` entries and
        // epoll_wait writes at most that many.
        let ready = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as c_int,
                millis,
            )
        };
        match check(ready, "wait for the clients' sockets") {
            Ok(count) => Ok(count as usize),
            Err(err) if err.kind() == ErrorKind::Interrupted => Ok(0),
            Err(err) => Err(err),
        }
    }
}

/// One client connection.
#[derive(Debug)]
struct Conn {
    /// `None` once the connection is closed.
    stream: Option<TcpStream>,
    role: Role,
    /// The bytes of a line that has not ended yet.
    partial: Vec<u8>,
}

/// What a sending client still has to send.
#[derive(Debug)]
struct Sender {
    next_seq: u64,
    /// Generated and not yet written: `pending[written..]`.
    pending: Vec<u8>,
    written: usize,
    /// Whether its epoll interest includes EPOLLOUT: while it has lines to
    /// write and the socket is full (or, unpaced, until all are written).
    wants_out: bool,
}

/// A timerfd: wakes the event loop when the next paced line is due, with
/// sub-millisecond precision (epoll_wait's timeout is in milliseconds, and
/// epoll_pwait2 needs a newer C library than courses can count on).
#[derive(Debug)]
struct Timer {
    fd: OwnedFd,
    /// When it is set to fire, in ns since the bench's clock started.
    armed_at: Option<u64>,
}

impl Timer {
    fn new() -> io::Result<Timer> {
        // SAFETY: timerfd_create takes a clock id and flags.
        let fd = check(
            unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            },
            "create the pacing timer",
        )?;
        // SAFETY: timerfd_create just returned `fd`, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Timer { fd, armed_at: None })
    }

    /// Sets it to fire once, `after` from now (at least 1 ns: zero would
    /// disarm it).
    fn arm(&mut self, after: Duration, at_ns: u64) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec; a null old value is allowed.
        let set =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        check(set, "arm the pacing timer")?;
        self.armed_at = Some(at_ns);
        Ok(())
    }

    /// Consumes the expiration, so the descriptor is not readable any more.
    fn clear(&mut self) {
        // A timerfd read takes 8 bytes, the count of expirations. EAGAIN
        // (nothing to read) is fine.
        let mut expirations = [0u8; 8];
        let _ = sys::read_fd(self.fd.as_raw_fd(), &mut expirations);
        self.armed_at = None;
    }
}

/// Line-by-line bookkeeping: what every client received.
#[derive(Debug)]
struct Tally {
    /// `[IP:PORT]` of every client, as the server should tag its lines.
    tags: Vec<Box<[u8]>>,
    senders: usize,
    messages: u64,
    /// The size of a sent line including its `\n`: the forwarded text is
    /// one byte shorter.
    size: usize,
    /// One bit per (receiver, sender, sequence number): seen yet?
    seen: Vec<u64>,
    /// Per (receiver, sender): one more than the highest sequence number
    /// seen, to tell a line that arrives after a later one.
    next: Vec<u64>,
    // Per client.
    joins: Vec<u64>,
    lines: Vec<u64>,
    // In all.
    joins_total: u64,
    lines_total: u64,
    deliveries: u64,
    unique: u64,
    duplicated: u64,
    out_of_order: u64,
    corrupt: u64,
    latency: Histogram<u64>,
    /// When the last bench line arrived, in ns since the clock's start.
    last_delivery_ns: u64,
    /// The client that sent the probe line and whether client 0 got it.
    probe_from: Option<usize>,
    probe_seen: bool,
    /// The first corrupt line, to show.
    first_corrupt: Option<Vec<u8>>,
}

impl Tally {
    fn record_line(&mut self, receiver: usize, line: &[u8], now_ns: u64) {
        self.lines[receiver] += 1;
        self.lines_total += 1;
        // The fast path, for nearly every line: a bench line's text is
        // `size - 1` bytes, so the tag ends `size` bytes before the end (no
        // scan for the `]`); `record_message` checks the tag in full.
        if line.len() > self.size && self.size > 0 {
            let (tag, text) = line.split_at(line.len() - self.size);
            if tag.first() == Some(&b'[') && tag.last() == Some(&b']') && text[0] == b' ' {
                let text = &text[1..];
                if let Some(fields) = parse_payload(text) {
                    return self.record_delivery(receiver, line, tag, text, fields, now_ns);
                }
            }
        }
        let Some((tag, text)) = split_tag(line) else {
            return self.corrupt(line);
        };
        match text {
            b"(connected)" => {
                self.joins[receiver] += 1;
                self.joins_total += 1;
            }
            // A leave notice is protocol, not corruption; the client it
            // names counts as disconnected when its own connection closes.
            b"(disconnected)" => {}
            _ => self.record_message(receiver, line, tag, text, now_ns),
        }
    }

    fn record_message(&mut self, receiver: usize, line: &[u8], tag: &[u8], text: &[u8], now: u64) {
        match parse_payload(text) {
            Some(fields) => self.record_delivery(receiver, line, tag, text, fields, now),
            None if receiver == 0
                && text == PROBE
                && self.probe_from.is_some_and(|from| *self.tags[from] == *tag) =>
            {
                self.probe_seen = true;
            }
            None => self.corrupt(line),
        }
    }

    /// Checks and counts a bench line: `fields` are its sender, sequence
    /// number and send time.
    fn record_delivery(
        &mut self,
        receiver: usize,
        line: &[u8],
        tag: &[u8],
        text: &[u8],
        (sender, seq, sent_ns): (u64, u64, u64),
        now: u64,
    ) {
        let sender = sender as usize;
        // A line the bench never sent, a wrong tag, a cut line, or a line
        // echoed to its own sender.
        if sender >= self.senders
            || seq >= self.messages
            || sender == receiver
            || *self.tags[sender] != *tag
            || text.len() + 1 != self.size
        {
            return self.corrupt(line);
        }
        self.deliveries += 1;
        self.last_delivery_ns = now;
        self.latency.saturating_record(now.saturating_sub(sent_ns));
        let pair = receiver * self.senders + sender;
        let bit = pair as u64 * self.messages + seq;
        let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
        if self.seen[word] & mask != 0 {
            self.duplicated += 1;
            return;
        }
        self.seen[word] |= mask;
        self.unique += 1;
        if seq < self.next[pair] {
            self.out_of_order += 1;
        } else {
            self.next[pair] = seq + 1;
        }
    }

    fn corrupt(&mut self, line: &[u8]) {
        self.corrupt += 1;
        if self.first_corrupt.is_none() {
            self.first_corrupt = Some(line[..line.len().min(200)].to_vec());
        }
    }
}

/// Splits `[TAG] TEXT` into the tag (with its brackets) and the text.
fn split_tag(line: &[u8]) -> Option<(&[u8], &[u8])> {
    if line.first() != Some(&b'[') {
        return None;
    }
    let close = line.iter().position(|&b| b == b']')?;
    if line.get(close + 1) != Some(&b' ') {
        return None;
    }
    Some((&line[..=close], &line[close + 2..]))
}

/// Parses the text of a bench line, `SENDER SEQ SENT_NS` and padding:
/// returns the three numbers.
fn parse_payload(text: &[u8]) -> Option<(u64, u64, u64)> {
    let (sender, rest) = parse_number(text)?;
    let (seq, rest) = parse_number(rest.strip_prefix(b" ")?)?;
    let (sent, rest) = parse_number(rest.strip_prefix(b" ")?)?;
    (rest.is_empty() || rest[0] == b' ').then_some((sender, seq, sent))
}

/// A decimal number at the start of `bytes`, and what follows it.
fn parse_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    // One pass, no overflow check in the loop: at most 19 digits fit in a
    // u64 whatever they are.
    let mut value = 0u64;
    let mut digits = 0;
    for &b in bytes.iter().take(19) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        value = value * 10 + u64::from(digit);
        digits += 1;
    }
    if digits == 0 || bytes.get(digits).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((value, &bytes[digits..]))
}

/// Appends the decimal digits of `n`.
fn push_number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// How many bytes a bench line needs at least, for `senders` senders of
/// `messages` lines each: the three numbers (the timestamp at its widest),
/// two spaces and the `\n`.
pub fn min_line_size(senders: usize, messages: u64) -> usize {
    let width = |n: u64| n.max(1).ilog10() as usize + 1;
    width(senders.saturating_sub(1) as u64) + 1 + width(messages.saturating_sub(1)) + 1 + 20 + 1
}

/// Appends one bench line: `SENDER SEQ SENT_NS`, padded with `x` to `size`
/// bytes including its `\n`.
fn push_line(out: &mut Vec<u8>, sender: usize, seq: u64, sent_ns: u64, size: usize) {
    let start = out.len();
    push_number(out, sender as u64);
    out.push(b' ');
    push_number(out, seq);
    out.push(b' ');
    push_number(out, sent_ns);
    if out.len() - start < size - 1 {
        out.push(b' ');
    }
    out.resize(start + size - 1, b'x');
    out.push(b'\n');
}

/// The position of the first `\n` in `bytes`, eight bytes at a time (the
/// bench scans every byte the server sends, about 85 per line).
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // A byte of `x` is zero where the chunk has a `\n`; the classic test
        // flags the lowest zero byte exactly (only bytes above it can be
        // flagged falsely).
        let x = u64::from_le_bytes(word) ^ NEWLINES;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| at + i)
}

/// The longest latency the histogram tells apart from longer ones: an hour,
/// far beyond any run's deadline.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// A histogram of latencies in nanoseconds, to two significant digits (a
/// percentile is within 1%), fixed in size: recording is an index
/// computation and an increment, into a table small enough (36 KiB) to stay
/// in the cache while the bench reads a million lines a second.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 2)
        .expect("constant bounds that hdrhistogram accepts: 1 <= low, 2 * low <= high, sigfig <= 5")
}

/// What the tally says at the end of a measured run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub deliveries: u64,
    pub expected: u64,
    pub unique: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub corrupt: u64,
    pub first_corrupt: Option<Vec<u8>>,
    /// Clients whose connection the server closed during the run.
    pub closed: usize,
    pub latency: Histogram<u64>,
    /// From the first send to the last delivery.
    pub window: Duration,
    pub ended: Ended,
}

impl Outcome {
    pub fn missing(&self) -> u64 {
        self.expected.saturating_sub(self.unique)
    }

    /// Lines missing, duplicated or out of order.
    pub fn lost(&self) -> u64 {
        self.missing() + self.duplicated + self.out_of_order
    }
}

/// The clients, their event loop and what they received.
#[derive(Debug)]
pub struct Load {
    addr: SocketAddr,
    poller: Poller,
    conns: Vec<Conn>,
    /// The client whose socket is descriptor `fd`, at index `fd`: an epoll
    /// event carries the descriptor.
    client_of_fd: Vec<Option<usize>>,
    senders: Vec<Sender>,
    size: usize,
    tally: Tally,
    buf: Box<[u8]>,
    /// Timestamps in lines are nanoseconds since this instant.
    clock: Instant,
    /// The last time a byte was sent or received.
    last_activity: Instant,
    open: usize,
    /// Clients closed by the server since `start_sending`.
    closed_while_sending: usize,
    sending: bool,
    /// Lines per second per sender, if paced; as fast as the server takes
    /// them otherwise.
    rate: Option<u64>,
    /// Wakes the loop for the next paced line.
    timer: Option<Timer>,
    /// The `Role::Count` clients, read by a sweep, and when the next is.
    swept: Vec<usize>,
    next_sweep: Instant,
}

impl Load {
    /// A load generator for the server at `addr`, to have `senders` of its
    /// clients send `messages` lines of `size` bytes each (all zero for the
    /// idle mode), `rate` lines per second each if given.
    pub fn new(
        addr: SocketAddr,
        senders: usize,
        messages: u64,
        size: usize,
        rate: Option<u64>,
    ) -> io::Result<Load> {
        let timer = rate.map(|_| Timer::new()).transpose()?;
        Ok(Load {
            addr,
            poller: Poller::new()?,
            conns: Vec::new(),
            client_of_fd: Vec::new(),
            senders: (0..senders)
                .map(|_| Sender {
                    next_seq: 0,
                    pending: Vec::with_capacity(SEND_CHUNK + size),
                    written: 0,
                    wants_out: false,
                })
                .collect(),
            size,
            tally: Tally {
                tags: Vec::new(),
                senders,
                messages,
                size,
                seen: Vec::new(),
                next: Vec::new(),
                joins: Vec::new(),
                lines: Vec::new(),
                joins_total: 0,
                lines_total: 0,
                deliveries: 0,
                unique: 0,
                duplicated: 0,
                out_of_order: 0,
                corrupt: 0,
                latency: latency_histogram(),
                last_delivery_ns: 0,
                probe_from: None,
                probe_seen: false,
                first_corrupt: None,
            },
            buf: vec![0; READ_BUF].into_boxed_slice(),
            clock: Instant::now(),
            last_activity: Instant::now(),
            open: 0,
            closed_while_sending: 0,
            sending: false,
            rate,
            timer,
            swept: Vec::new(),
            next_sweep: Instant::now(),
        })
    }

    /// Connects `count` more clients, each with a deadline of `until`.
    pub fn connect(&mut self, count: usize, role: Role, until: Instant) -> io::Result<()> {
        for _ in 0..count {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!("connecting client {} took too long", self.conns.len() + 1),
                ));
            }
            let stream = TcpStream::connect_timeout(&self.addr, left)?;
            stream.set_nonblocking(true)?;
            // Lines go out when written, not when Nagle's algorithm lets
            // them: a delay there would count as the server's latency.
            stream.set_nodelay(true)?;
            let tag = format!("[{}]", stream.local_addr()?).into_bytes();
            let client = self.conns.len();
            if role == Role::Count {
                self.swept.push(client);
            } else {
                let fd = stream.as_raw_fd();
                self.poller.add(fd)?;
                let at = fd as usize;
                if self.client_of_fd.len() <= at {
                    self.client_of_fd.resize(at + 1, None);
                }
                self.client_of_fd[at] = Some(client);
            }
            self.conns.push(Conn {
                stream: Some(stream),
                role,
                partial: Vec::new(),
            });
            self.tally.tags.push(tag.into_boxed_slice());
            for counter in [&mut self.tally.joins, &mut self.tally.lines] {
                counter.push(0);
            }
            self.open += 1;
        }
        Ok(())
    }

    pub fn clients(&self) -> usize {
        self.conns.len()
    }

    /// Join notices received by every client together.
    pub fn joins_total(&self) -> u64 {
        self.tally.joins_total
    }

    /// Join notices received by client `i`.
    pub fn joins(&self, i: usize) -> u64 {
        self.tally.joins[i]
    }

    /// Lines (of any kind) received by every client together.
    pub fn lines_total(&self) -> u64 {
        self.tally.lines_total
    }

    /// Bench lines delivered so far.
    pub fn deliveries(&self) -> u64 {
        self.tally.deliveries
    }

    /// Clients whose connection is still open.
    pub fn open(&self) -> usize {
        self.open
    }

    /// Whether client 0 has received the probe line.
    pub fn probe_seen(&self) -> bool {
        self.tally.probe_seen
    }

    /// Seconds since the measured run started (or since the load was made).
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Nanoseconds since the clock's start.
    fn now_ns(&self) -> u64 {
        self.clock.elapsed().as_nanos() as u64
    }

    /// Has client `from` send the probe line, for client 0 to receive.
    pub fn send_probe(&mut self, from: usize) -> io::Result<()> {
        self.tally.probe_from = Some(from);
        let mut line = PROBE.to_vec();
        line.push(b'\n');
        let stream = self.conns[from]
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::new(ErrorKind::NotConnected, "the client is closed"))?;
        // A few dozen bytes into an empty socket buffer: a non-blocking write
        // takes them whole or the connection is broken.
        let written = stream.write(&line)?;
        if written != line.len() {
            return Err(io::Error::new(ErrorKind::WriteZero, "a short write"));
        }
        Ok(())
    }

    /// Starts the measured run: clients `0..senders` start sending, and the
    /// clock restarts, so timestamps are nanoseconds since now.
    pub fn start_sending(&mut self) -> io::Result<()> {
        let (k, m, n) = (self.senders.len(), self.tally.messages, self.conns.len());
        let bits = (n * k) as u64 * m;
        self.tally.seen = vec![0; bits.div_ceil(64) as usize];
        self.tally.next = vec![0; n * k];
        if let Some(timer) = &self.timer {
            self.poller.add(timer.fd.as_raw_fd())?;
        }
        self.clock = Instant::now();
        self.last_activity = Instant::now();
        self.sending = true;
        // Each sender writes what it may now; what the socket does not take
        // waits for EPOLLOUT, the rest (paced) for the timer.
        for i in 0..k {
            self.send(i)?;
        }
        self.pace()
    }

    /// When line `seq` of sender `i` is due, paced, in ns since the start.
    /// The senders take turns: sender i's lines are due `i / K` of a period
    /// after sender 0's, so the server sees a steady stream, not bursts.
    fn due_at(&self, i: usize, seq: u64) -> u64 {
        let (Some(rate), k) = (self.rate, self.senders.len() as u128) else {
            return 0;
        };
        let tick = seq as u128 * k + i as u128;
        (tick * 1_000_000_000 / (rate as u128 * k)) as u64
    }

    /// How many of sender `i`'s lines are due at `now_ns` (all of them,
    /// unpaced).
    fn due(&self, i: usize, now_ns: u64) -> u64 {
        let Some(rate) = self.rate else {
            return self.tally.messages;
        };
        let k = self.senders.len() as u128;
        let ticks = now_ns as u128 * rate as u128 * k / 1_000_000_000;
        let due = if ticks < i as u128 {
            0
        } else {
            ((ticks - i as u128) / k + 1) as u64
        };
        due.min(self.tally.messages)
    }

    /// Paced: arms the timer for the next line due from a sender that is
    /// not waiting for EPOLLOUT anyway.
    fn pace(&mut self) -> io::Result<()> {
        if self.timer.is_none() {
            return Ok(());
        }
        let next = (0..self.senders.len())
            .filter(|&i| {
                let sender = &self.senders[i];
                !sender.wants_out
                    && sender.next_seq < self.tally.messages
                    && self.conns[i].stream.is_some()
            })
            .map(|i| self.due_at(i, self.senders[i].next_seq))
            .min();
        let now = self.now_ns();
        if let (Some(timer), Some(at)) = (self.timer.as_mut(), next)
            && timer.armed_at != Some(at)
        {
            timer.arm(Duration::from_nanos(at.saturating_sub(now)), at)?;
        }
        Ok(())
    }

    /// The timer fired: every sender writes the lines now due.
    fn on_timer(&mut self) -> io::Result<()> {
        if let Some(timer) = self.timer.as_mut() {
            timer.clear();
        }
        for i in 0..self.senders.len() {
            if !self.senders[i].wants_out {
                self.send(i)?;
            }
        }
        Ok(())
    }

    /// The deliveries the measured run expects: every sender's lines reach
    /// every client but the sender.
    pub fn expected(&self) -> u64 {
        (self.senders.len() * (self.conns.len() - 1)) as u64 * self.tally.messages
    }

    /// Runs the event loop until `done` holds, `until` passes, every
    /// connection is closed, or (with `stall`) nothing moved for that long.
    /// `tick` is called about every `tick_every`, for progress.
    pub fn run_until(
        &mut self,
        until: Instant,
        stall: Option<Duration>,
        done: &dyn Fn(&Load) -> bool,
        tick_every: Duration,
        tick: &mut dyn FnMut(&Load),
    ) -> io::Result<Ended> {
        let mut next_tick = Instant::now() + tick_every;
        loop {
            if done(self) {
                return Ok(Ended::Done);
            }
            if self.open == 0 {
                return Ok(Ended::AllClosed);
            }
            let now = Instant::now();
            if now >= until {
                return Ok(Ended::Deadline);
            }
            let stalled_at = stall.map(|s| self.last_activity + s);
            if stalled_at.is_some_and(|at| now >= at) {
                return Ok(Ended::Stalled);
            }
            if now >= next_tick {
                tick(self);
                next_tick = now + tick_every;
            }
            if !self.swept.is_empty() && now >= self.next_sweep {
                for index in 0..self.swept.len() {
                    self.receive(self.swept[index]);
                }
                self.next_sweep = now + SWEEP;
                // The sweep may have been what `done` waits for.
                continue;
            }
            let mut wake = stalled_at.map_or(until, |at| at.min(until)).min(next_tick);
            if !self.swept.is_empty() {
                wake = wake.min(self.next_sweep);
            }
            let ready = self.poller.wait(wake.saturating_duration_since(now))?;
            let mut repace = false;
            for i in 0..ready {
                let event = self.poller.events[i];
                let fd = event_fd(&event);
                if self.timer.as_ref().is_some_and(|t| t.fd.as_raw_fd() == fd) {
                    self.on_timer()?;
                    repace = true;
                    continue;
                }
                // A client closed earlier in this round is out of the table.
                let Some(client) = self.client_of_fd.get(fd as usize).copied().flatten() else {
                    continue;
                };
                if is_readable(&event) {
                    self.receive(client);
                }
                if is_writable(&event) {
                    self.send(client)?;
                    repace = true;
                }
            }
            if repace {
                self.pace()?;
            }
        }
    }

    /// Reads once from client `i` and handles every line it completes.
    /// (epoll is level-triggered: if more is waiting, the next wait says so,
    /// and every other ready client gets its turn first.)
    fn receive(&mut self, i: usize) {
        let Some(stream) = self.conns[i].stream.as_mut() else {
            return;
        };
        let count = match stream.read(&mut self.buf) {
            Ok(0) => return self.close(i),
            Ok(count) => count,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return;
            }
            Err(_) => return self.close(i),
        };
        self.last_activity = Instant::now();
        // One timestamp for the whole read: every line in it arrived then.
        let now = self.now_ns();
        let data = &self.buf[..count];
        let conn = &mut self.conns[i];
        if conn.role == Role::Count {
            let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
            self.tally.lines[i] += lines;
            self.tally.lines_total += lines;
            return;
        }
        let mut rest = data;
        if !conn.partial.is_empty() {
            match find_newline(rest) {
                Some(end) => {
                    conn.partial.extend_from_slice(&rest[..end]);
                    rest = &rest[end + 1..];
                    let line = std::mem::take(&mut conn.partial);
                    self.tally.record_line(i, &line, now);
                    // Keep the allocation for the next partial line.
                    let conn = &mut self.conns[i];
                    conn.partial = line;
                    conn.partial.clear();
                }
                None => {
                    conn.partial.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        while let Some(end) = find_newline(rest) {
            self.tally.record_line(i, &rest[..end], now);
            rest = &rest[end + 1..];
        }
        let conn = &mut self.conns[i];
        conn.partial.extend_from_slice(rest);
        if conn.partial.len() > MAX_PARTIAL {
            let partial = std::mem::take(&mut conn.partial);
            self.tally.corrupt(&partial);
        }
    }

    /// Writes sender `i`'s lines (unpaced: all; paced: those due) while its
    /// socket takes them, and asks for EPOLLOUT exactly while the socket is
    /// full with lines left to write.
    fn send(&mut self, i: usize) -> io::Result<()> {
        if i >= self.senders.len() || self.conns[i].stream.is_none() {
            return Ok(());
        }
        let now = self.now_ns();
        let due = self.due(i, now);
        let full = loop {
            let sender = &self.senders[i];
            if sender.written == sender.pending.len() {
                if sender.next_seq >= due {
                    break false;
                }
                // Paced, a line carries the time it was due, not the time
                // it was written: a server that makes the bench wait shows
                // it in the latency instead of hiding it.
                let mut seq = sender.next_seq;
                let mut pending = std::mem::take(&mut self.senders[i].pending);
                pending.clear();
                while seq < due && (pending.is_empty() || pending.len() + self.size <= SEND_CHUNK) {
                    let stamp = if self.rate.is_some() {
                        self.due_at(i, seq)
                    } else {
                        now
                    };
                    push_line(&mut pending, i, seq, stamp, self.size);
                    seq += 1;
                }
                let sender = &mut self.senders[i];
                sender.pending = pending;
                sender.written = 0;
                sender.next_seq = seq;
            }
            let (Some(stream), sender) = (self.conns[i].stream.as_mut(), &mut self.senders[i])
            else {
                return Ok(());
            };
            match stream.write(&sender.pending[sender.written..]) {
                Ok(written) => {
                    sender.written += written;
                    self.last_activity = Instant::now();
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => break true,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                // The connection failed: the read side notices and closes it.
                Err(_) => return Ok(()),
            }
        };
        let sender = &mut self.senders[i];
        if full != sender.wants_out {
            sender.wants_out = full;
            if let Some(stream) = &self.conns[i].stream {
                self.poller.watch_writable(stream.as_raw_fd(), full)?;
            }
        }
        Ok(())
    }

    /// Closes client `i`'s connection (the server closed it or it failed).
    fn close(&mut self, i: usize) {
        if let Some(stream) = self.conns[i].stream.take() {
            // Out of the epoll set and the table before the descriptor is
            // closed and its number can be reused. (A swept client was never
            // in either: that error is expected.)
            let fd = stream.as_raw_fd();
            let _ = self.poller.remove(fd);
            if let Some(slot) = self.client_of_fd.get_mut(fd as usize) {
                *slot = None;
            }
            drop(stream);
            self.open -= 1;
            if self.sending {
                self.closed_while_sending += 1;
            }
        }
    }

    /// Whether every client has received every line meant for it.
    pub fn all_delivered(&self) -> bool {
        self.tally.unique >= self.expected()
    }

    /// The tally of the measured run.
    pub fn outcome(&self, ended: Ended) -> Outcome {
        // The clock restarted at the first send.
        let window_ns = self.tally.last_delivery_ns;
        Outcome {
            deliveries: self.tally.deliveries,
            expected: self.expected(),
            unique: self.tally.unique,
            duplicated: self.tally.duplicated,
            out_of_order: self.tally.out_of_order,
            corrupt: self.tally.corrupt,
            first_corrupt: self.tally.first_corrupt.clone(),
            closed: self.closed_while_sending,
            latency: self.tally.latency.clone(),
            window: Duration::from_nanos(window_ns),
            ended,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_are_found_wherever_they_are() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b'\n';
                if at + 3 < len {
                    bytes[at + 3] = b'\n';
                }
                assert_eq!(find_newline(&bytes), Some(at), "len {len} at {at}");
            }
            assert_eq!(find_newline(&vec![0x8a; len]), None);
        }
    }

    #[test]
    fn a_line_has_the_requested_size_and_parses_back() {
        for size in [min_line_size(10, 10_000), 64, 100, 4097] {
            let mut out = Vec::new();
            push_line(&mut out, 7, 9_999, u64::MAX / 2, size);
            assert_eq!(out.len(), size);
            assert_eq!(out.last(), Some(&b'\n'));
            let text = &out[..size - 1];
            assert_eq!(parse_payload(text), Some((7, 9_999, u64::MAX / 2)));
        }
    }

    #[test]
    fn latencies_are_kept_to_one_percent_up_to_an_hour() {
        let mut histogram = latency_histogram();
        for micros in 1..=100_000u64 {
            histogram.saturating_record(micros * 1000);
        }
        for q in [0.5, 0.9, 0.99, 1.0] {
            let exact = q * 100_000_000.0;
            let got = histogram.value_at_quantile(q) as f64;
            assert!(
                (got - exact).abs() / exact <= 0.01,
                "q {q}: {got} vs {exact}"
            );
        }
        // Longer than the histogram tracks: counted as the longest it does.
        histogram.saturating_record(u64::MAX);
        let max = histogram.max() as f64;
        assert!((max - MAX_LATENCY_NS as f64).abs() / max <= 0.01, "{max}");
        assert_eq!(histogram.len(), 100_001);
        assert!(
            histogram.distinct_values() * 8 <= 36 * 1024,
            "{} counters",
            histogram.distinct_values()
        );
    }

    #[test]
    fn a_tagged_line_splits_at_the_first_bracket() {
        assert_eq!(
            split_tag(b"[127.0.0.1:4000] 1 2 3"),
            Some((&b"[127.0.0.1:4000]"[..], &b"1 2 3"[..]))
        );
        assert_eq!(split_tag(b"127.0.0.1:4000] x"), None);
        assert_eq!(split_tag(b"[127.0.0.1:4000]x"), None);
    }
}
