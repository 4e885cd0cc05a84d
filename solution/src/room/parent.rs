// LAB 2: the room (lab-docs/room.md)
//! The room: one thread, one epoll set, a helper process per client.
//!
//! The epoll set holds the listening socket, the read end of the signal
//! self-pipe, and, for each client, the pipe its helper reports on. The
//! room never holds a client's socket after starting its helper.
//!
//! The event loop, in short:
//!
//! 1. `epoll_wait`, at most until the nearest deadline (an idle user, or a
//!    full ring's oldest slot; see [`Room::timeout_ms`]).
//! 2. For each ready descriptor:
//!    - the listener: accept the newcomer, start its helper (`fork` and
//!      `exec`, [`super::spawn`]), tell the others it connected;
//!    - the self-pipe: SIGCHLD means reap every helper that ended;
//!      SIGTERM or SIGINT means stop;
//!    - a helper's pipe: acks free slots; each line becomes a message for
//!      the others; end-of-file means the helper ended: its client left.
//! 3. Disconnect the users whose idle deadline passed.
//! 4. Put the waiting messages into free slots of the ring and send each
//!    slot's number to the helpers of the message's recipients.
//!
//! # The ring, and what happens when it is full
//!
//! A message waits in `waiting` until the slot after the last one used is
//! free, that is, until every helper it went to last time has acked it.
//! Helpers ack as soon as they have copied a message into their own outbox,
//! whether or not their client reads it, so a slot is held for the time it
//! takes a helper to be scheduled, not for as long as a slow client takes.
//! A client that does not read costs its own helper's memory, up to the
//! 1 MiB limit (then its helper ends it), never the ring.
//!
//! When the ring comes round to a slot still held, the room tells every
//! helper to stop reading its client (back-pressure: TCP then slows the
//! senders down, as lab 1's flow control does) and keeps reading their
//! pipes, so acks keep coming, until the slot is free; then it tells them
//! to go on. A helper that still holds that slot [`STUCK_AFTER`] after the
//! room started waiting is stuck (stopped, or starved of the CPU) and is
//! disconnected: the room kills it and takes the slot back. See
//! [`Room::pump`].

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ffi::CString;
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use libc::c_int;

use super::records::{Order, RecordBuffer, Report};
use super::shm::{self, SLOTS, SlotRing, ring_name};
use super::signals::{self, SelfPipe};
use super::spawn;
use crate::cli::RoomArgs;
use crate::protocol::{self, CONNECTED, DISCONNECTED, push_message};
use crate::sys::{self, check, with_context};
use crate::w_epoll::{NO_EVENT, event_fd, w_epoll_add_fd_in, w_epoll_del_fd};

/// The most events one `epoll_wait` returns; more wait for the next call.
const MAX_EVENTS: usize = 256;

/// The size of the buffer every read from a helper's pipe goes into.
const READ_BUF_SIZE: usize = 64 * 1024;

/// The most connections accepted in one round.
const ACCEPTS_PER_ROUND: usize = 64;

/// How long the loop may sleep while accepting is paused for lack of
/// descriptors: then it tries again, in case no helper ends to free one.
const PAUSED_WAIT: Duration = Duration::from_secs(1);

/// How long a helper may keep holding the slot a full ring needs next,
/// counted from when the room started waiting for it, before it counts as
/// stuck and is disconnected. A helper that runs copies a message within
/// milliseconds; the margin is for a machine loaded with hundreds of them
/// (counted from when the slot was sent instead, the room's own time to
/// hand out the other slots counted against the helpers, and a burst of
/// 300 clients on two busy cores had helpers evicted).
pub const STUCK_AFTER: Duration = Duration::from_secs(2);

/// Runs the room until SIGINT or SIGTERM: binds, prints the readiness line,
/// then serves; at the end, ends every helper and removes the ring.
pub fn run(args: &RoomArgs) -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, args.port))
        .map_err(|err| with_context(err, &format!("listen on 0.0.0.0:{}", args.port)))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let helper_exe = spawn::helper_path()?;
    shm::remove_stale_rings();
    let ring = SlotRing::create(&ring_name(std::process::id()))?;
    signals::ignore_sigpipe()?;
    let signals = signals::install(&[libc::SIGCHLD, libc::SIGINT, libc::SIGTERM])?;
    let mut room = Room::new(listener, signals, ring, helper_exe, args.idle_secs)?;

    // The readiness line: everything is in place, clients may connect.
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", protocol::readiness_line(port))?;
    stdout.flush()?;
    drop(stdout);

    let served = room.serve();
    room.end_helpers();
    // Dropping the room closes every descriptor and removes the ring.
    served
}

/// What the room knows.
struct Room {
    /// The epoll instance: the listener, the self-pipe, each helper's pipe.
    epoll: OwnedFd,
    listener: TcpListener,
    /// Readable when a signal came (see `signals`).
    signals: SelfPipe,
    /// Whether the listener is in the epoll set (see lab 1's server: it is
    /// taken out while there are no descriptors left to accept with).
    accepting: bool,
    /// The path of `room-helper`, found once at start.
    helper_exe: CString,
    /// The users, found by the descriptor of their helper's pipe to us:
    /// that is what `epoll_wait` tells.
    clients: HashMap<RawFd, Client>,
    /// The `id` of the next client: unlike descriptors, never reused.
    next_id: u64,
    /// The shared memory.
    ring: SlotRing,
    /// `holders[slot]`: how many helpers hold that slot (were sent its
    /// number and did not ack it yet). It is free when that is 0.
    holders: Vec<usize>,
    /// The slot the next message goes into: slots are used in turn.
    next_slot: usize,
    /// Messages waiting for a free slot, oldest first.
    waiting: VecDeque<Message>,
    /// Since when messages wait because the next slot is still held, if
    /// they do: a helper that holds it for STUCK_AFTER past that is stuck.
    full_since: Option<Instant>,
    /// Whether the helpers were told to stop reading their clients because
    /// the ring is full.
    stopped: bool,
    /// The `--idle` time in seconds, if any.
    idle_secs: Option<u32>,
    /// The idle deadlines of the users, soonest first: (when, whose). A
    /// BTreeSet keeps them sorted, and a user's old deadline can be found and
    /// removed when it sends a line.
    deadlines: BTreeSet<(Instant, RawFd)>,
    /// Clients whose pipe failed during the round, to disconnect at its
    /// end.
    broken: Vec<RawFd>,
    /// Every read goes here.
    read_buf: Box<[u8]>,
}

/// A user of the room, as the room sees it: its helper and their pipes.
struct Client {
    /// Never reused, unlike the descriptor that the room finds it by.
    id: u64,
    /// The helper's process id, until it is reaped (after that the id may
    /// belong to another process, which must never get our signals).
    pid: Option<libc::pid_t>,
    /// Its name in the chat, `[IP:PORT]`.
    tag: String,
    /// The pipe we send orders on (the helper's PIPE_IN).
    to_helper: File,
    /// The pipe it reports on (its PIPE_OUT), and the bytes of a report not
    /// complete yet.
    from_helper: File,
    reports: RecordBuffer,
    /// `holds[slot]`: whether this helper was sent `slot` and has not acked
    /// it yet.
    holds: Vec<bool>,
    /// When it will be disconnected for being idle, if `--idle` was given.
    deadline: Option<Instant>,
    /// Whether it is on its way out (told it was idle): the others already
    /// heard that it left, so it gets no more messages and its lines are
    /// dropped, but its pipe stays open until its helper ends.
    leaving: bool,
}

/// A message waiting for a free slot, and who it is for: the users present
/// when it was said, each by descriptor and id (a descriptor may be reused
/// by a newcomer before the message goes out).
struct Message {
    text: Vec<u8>,
    to: Vec<(RawFd, u64)>,
}

/// Whether the loop goes on.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Stop,
}

impl Room {
    fn new(
        listener: TcpListener,
        signals: SelfPipe,
        ring: SlotRing,
        helper_exe: CString,
        idle_secs: Option<u32>,
    ) -> io::Result<Self> {
        let epoll = sys::epoll_create()?;
        check(
            w_epoll_add_fd_in(epoll.as_raw_fd(), listener.as_raw_fd()),
            "watch the listening socket",
        )?;
        check(
            w_epoll_add_fd_in(epoll.as_raw_fd(), signals.fd()),
            "watch the signal self-pipe",
        )?;
        Ok(Self {
            epoll,
            listener,
            signals,
            accepting: true,
            helper_exe,
            clients: HashMap::new(),
            next_id: 0,
            ring,
            holders: vec![0; SLOTS],
            next_slot: 0,
            waiting: VecDeque::new(),
            full_since: None,
            stopped: false,
            idle_secs,
            deadlines: BTreeSet::new(),
            broken: Vec::new(),
            read_buf: vec![0; READ_BUF_SIZE].into_boxed_slice(),
        })
    }

    /// The event loop. Returns `Ok` when SIGINT or SIGTERM came.
    fn serve(&mut self) -> io::Result<()> {
        let mut events = [NO_EVENT; MAX_EVENTS];
        loop {
            let timeout = self.timeout_ms(Instant::now());
            // SAFETY: `events` is a writable array of MAX_EVENTS entries, and
            // epoll_wait writes at most that many.
            let ready = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    MAX_EVENTS as c_int,
                    timeout,
                )
            };
            // A signal makes epoll_wait fail with EINTR (whatever SA_RESTART
            // says): its byte is in the self-pipe, which the next call
            // reports.
            let ready = match check(ready, "wait for events") {
                Ok(count) => count as usize,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            for event in &events[..ready] {
                let fd = event_fd(event);
                if fd == self.listener.as_raw_fd() {
                    self.accept_clients()?;
                } else if fd == self.signals.fd() {
                    if self.on_signals()? == Next::Stop {
                        return Ok(());
                    }
                } else {
                    self.on_helper_event(fd);
                }
            }
            if !self.accepting && ready == 0 {
                self.resume_accepting()?;
            }
            self.expire_idle(Instant::now());
            self.finish_round();
        }
    }

    /// How long `epoll_wait` may sleep: until the nearest deadline, or for
    /// ever (-1) when there is none.
    ///
    /// The room keeps its timers itself and sleeps exactly until the
    /// nearest one with `epoll_wait`'s timeout. (The other way is
    /// `alarm`/`setitimer`: SIGALRM at the nearest deadline, caught through
    /// the self-pipe like any signal. It needs the same sorted deadlines,
    /// plus re-arming the alarm whenever the nearest one changes, and one
    /// more signal interrupting system calls.)
    fn timeout_ms(&self, now: Instant) -> c_int {
        let nearest = self.nearest_deadline(now);
        // TODO 30: Turn `nearest` into the timeout of `epoll_wait`, in
        //          milliseconds: -1 (for ever) when it is `None`; otherwise
        //          the time left until it
        //          (`when.saturating_duration_since(now)`), in whole
        //          milliseconds rounded *up* (`as_micros().div_ceil(1000)`):
        //          rounded down, the loop would wake just before the
        //          deadline, find nothing due, and sleep 0 ms again and
        //          again until it is. Cap it at `c_int::MAX`
        //          (`c_int::try_from(...).unwrap_or(c_int::MAX)`).
        // BEGIN SOLUTION
        match nearest {
            None => -1,
            Some(when) => {
                let left = when.saturating_duration_since(now);
                c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(c_int::MAX)
            }
        }
        // END SOLUTION
    }

    /// The nearest of: the first idle deadline; while messages wait for a
    /// full ring, the moment the holders of the slot they need count as
    /// stuck; while accepting is paused, the next try. `None` if there is
    /// nothing to wait for but events.
    fn nearest_deadline(&self, now: Instant) -> Option<Instant> {
        let idle = self.deadlines.first().map(|&(when, _)| when);
        let stuck = self.full_since.map(|since| since + STUCK_AFTER);
        let retry = (!self.accepting).then(|| now + PAUSED_WAIT);
        [idle, stuck, retry].into_iter().flatten().min()
    }

    /// Handles the signals that came: the self-pipe was readable.
    fn on_signals(&mut self) -> io::Result<Next> {
        let signals = self.signals.take()?;
        if signals.contains(libc::SIGCHLD) {
            self.reap_helpers();
        }
        if signals.contains(libc::SIGTERM) || signals.contains(libc::SIGINT) {
            return Ok(Next::Stop);
        }
        Ok(Next::Continue)
    }

    /// Collects the exit status of every helper that ended, so that none
    /// stays a zombie. One SIGCHLD may stand for several children that
    /// ended together (a signal that is already pending is not queued
    /// again), hence the loop.
    fn reap_helpers(&mut self) {
        loop {
            let mut status: c_int = 0;
            // TODO 28: Reap one ended child with `libc::waitpid(-1, &mut
            //          status, libc::WNOHANG)` (any child, and do not wait:
            //          returns 0 when none has ended), through `check`.
            //          0 or an error (ECHILD: no children at all) ends the
            //          loop (`break`). A pid: forget it in the client that
            //          has it (`self.forget_pid(pid)`), and log how it
            //          ended (`log_end(pid, status)`).
            // BEGIN SOLUTION
            let pid = match check(
                // SAFETY: `status` is a valid c_int for waitpid to write.
                unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) },
                "reap a helper",
            ) {
                Ok(0) | Err(_) => break,
                Ok(pid) => pid,
            };
            self.forget_pid(pid);
            log_end(pid, status);
            // END SOLUTION
        }
    }

    /// The helper `pid` was reaped: its id may be reused from now on, so
    /// the room must never signal it again.
    fn forget_pid(&mut self, pid: libc::pid_t) {
        if let Some(client) = self.clients.values_mut().find(|c| c.pid == Some(pid)) {
            client.pid = None;
        }
    }

    /// Accepts the connections waiting on the listener, at most
    /// ACCEPTS_PER_ROUND.
    fn accept_clients(&mut self) -> io::Result<()> {
        for _ in 0..ACCEPTS_PER_ROUND {
            // The helper's pipes first: without descriptors for them, the
            // newcomer waits in the backlog until a client leaves.
            let pipes = match spawn::Pipes::new() {
                Ok(pipes) => pipes,
                Err(err) if is_out_of_descriptors(&err) => return self.pause_accepting(),
                Err(err) => return Err(with_context(err, "make a helper's pipes")),
            };
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(err) if is_out_of_descriptors(&err) => return self.pause_accepting(),
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    continue;
                }
            };
            // A client that is gone already has no peer address: skip it.
            let Ok(peer) = stream.peer_addr() else {
                continue;
            };
            if let Err(err) = self.admit(stream, protocol::tag(peer), pipes) {
                // Starting a helper fails for lack of processes (fork) or
                // memory: wait a moment before taking more. This connection
                // is closed.
                eprintln!("could not take a new client: {err}");
                return self.pause_accepting();
            }
        }
        Ok(())
    }

    /// Starts a helper for an accepted connection and makes it a member of
    /// the room.
    fn admit(&mut self, stream: TcpStream, tag: String, pipes: spawn::Pipes) -> io::Result<()> {
        let helper = spawn::spawn(&self.helper_exe, stream, pipes)?;
        let fd = helper.from_helper.as_raw_fd();
        // If this fails, dropping `helper` closes its pipes: the helper sees
        // their end and exits, and SIGCHLD reaps it.
        check(
            w_epoll_add_fd_in(self.epoll.as_raw_fd(), fd),
            "watch a helper's pipe",
        )?;
        // Told before it joins, so it is not among the recipients.
        self.post(&tag, CONNECTED, None);
        eprintln!("{tag} connected (helper {})", helper.pid);
        let client = Client {
            id: self.next_id,
            pid: Some(helper.pid),
            tag,
            to_helper: helper.to_helper,
            from_helper: helper.from_helper,
            reports: RecordBuffer::new(),
            holds: vec![false; SLOTS],
            deadline: None,
            leaving: false,
        };
        self.next_id += 1;
        if self.stopped && send_order(&client, Order::Stop).is_err() {
            self.broken.push(fd);
        }
        self.clients.insert(fd, client);
        self.restart_idle_timer(fd, Instant::now());
        Ok(())
    }

    /// Reads what a helper reported: acks and lines. End-of-file means the
    /// helper ended (it does when its client leaves).
    fn on_helper_event(&mut self, fd: RawFd) {
        let Some(client) = self.clients.get_mut(&fd) else {
            return;
        };
        let count = match client.from_helper.read(&mut self.read_buf) {
            Ok(0) => return self.remove_client(fd, "left"),
            Ok(count) => count,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return;
            }
            Err(err) => {
                eprintln!("{}: read its helper's pipe: {err}", client.tag);
                return self.remove_client(fd, "its pipe failed");
            }
        };
        client.reports.extend(&self.read_buf[..count]);
        let mut acks = Vec::new();
        let mut lines = Vec::new();
        let tag = &client.tag;
        let parsed = client.reports.take_reports(|report| match report {
            Report::Ack(slot) => acks.push(slot as usize),
            Report::Line(line) => {
                let mut text = Vec::with_capacity(tag.len() + line.len() + 2);
                push_message(&mut text, tag, line);
                lines.push(text);
            }
        });
        let leaving = client.leaving;
        for slot in acks {
            self.release(fd, slot);
        }
        if !leaving && !lines.is_empty() {
            self.restart_idle_timer(fd, Instant::now());
            for text in lines {
                self.post_text(text, Some(fd));
            }
        }
        if let Err(err) = parsed {
            eprintln!("{tag}: {err}", tag = self.tag_of(fd));
            self.evict(fd, "its helper broke the record format");
        }
    }

    /// The helper of `fd` acked `slot`: it no longer needs it.
    fn release(&mut self, fd: RawFd, slot: usize) {
        let Some(client) = self.clients.get_mut(&fd) else {
            return;
        };
        // TODO 26: If `slot` is a slot this client holds (`slot < SLOTS`
        //          and `client.holds[slot]`), it holds it no longer: set
        //          `client.holds[slot]` to false and take one off the
        //          slot's holders (`self.holders[slot]`). Ignore an
        //          ack of a slot it does not hold.
        // BEGIN SOLUTION
        if slot < SLOTS && client.holds[slot] {
            client.holds[slot] = false;
            self.holders[slot] -= 1;
        }
        // END SOLUTION
    }

    /// Says `[TAG] TEXT` to every user but `from`.
    fn post(&mut self, tag: &str, text: &[u8], from: Option<RawFd>) {
        let mut message = Vec::new();
        push_message(&mut message, tag, text);
        self.post_text(message, from);
    }

    /// Queues a whole message for every user present but `from` (and the
    /// ones on their way out). It goes out at the end of the round.
    fn post_text(&mut self, text: Vec<u8>, from: Option<RawFd>) {
        let to = self
            .clients
            .iter()
            .filter(|&(&fd, client)| Some(fd) != from && !client.leaving)
            .map(|(&fd, client)| (fd, client.id))
            .collect();
        self.waiting.push_back(Message { text, to });
    }

    /// Ends a round: disconnects the clients whose pipe failed, and sends
    /// the waiting messages. Either can cause the other (a disconnect
    /// notice to send, a pipe that fails while sending).
    fn finish_round(&mut self) {
        loop {
            if let Some(fd) = self.broken.pop() {
                self.evict(fd, "its pipe failed");
            } else {
                self.pump();
                if self.broken.is_empty() {
                    return;
                }
            }
        }
    }

    /// Moves the waiting messages into the ring, oldest first, as long as
    /// the next slot is free, and sends each slot's number to the helpers of
    /// its message's recipients.
    fn pump(&mut self) {
        let now = Instant::now();
        while !self.waiting.is_empty() {
            let slot = self.next_slot;
            if self.holders[slot] > 0 {
                // The ring has wrapped onto a slot still held: some helper
                // has not copied the message sent SLOTS messages ago. Until
                // STUCK_AFTER has passed since the room started waiting,
                // it is merely behind: stop every helper from reading its
                // client (no new lines, TCP slows the senders) and wait for
                // the acks, which still come in, or for the loop's timeout
                // at STUCK_AFTER. Past that, its holders are stuck (stopped,
                // or starved of the CPU while the room had nothing else to
                // do): disconnect them, which frees the slot, and go on.
                // TODO 27: Write what the comment above says: note since
                //          when the ring is full, unless it is noted already
                //          (`self.full_since.get_or_insert(now)`); if `now`
                //          is before that plus STUCK_AFTER, call
                //          `self.stop_helpers()` and return. Otherwise call
                //          `self.evict_holders(slot)`, and `continue` (the
                //          slot is free now; the loop looks again).
                // BEGIN SOLUTION
                let since = *self.full_since.get_or_insert(now);
                if now < since + STUCK_AFTER {
                    self.stop_helpers();
                    return;
                }
                self.evict_holders(slot);
                continue;
                // END SOLUTION
            }
            let Some(message) = self.waiting.pop_front() else {
                break;
            };
            // TODO 25: Put `message.text` into `slot` of the ring
            //          (`self.ring.write`), note that the ring is not full
            //          (`self.full_since = None`), and move
            //          `self.next_slot` on to the next slot, going round
            //          after the last (`% SLOTS`). Then, for each `(fd, id)`
            //          of `message.to`, find the client
            //          (`self.clients.get_mut(&fd)`); skip it if it is gone,
            //          is another client by now (`client.id != id`) or is
            //          `leaving`. Send it the slot's number with
            //          `send_order(client, Order::Slot(slot as u32))`: if that
            //          fails (`is_err()`), push `fd` onto `self.broken`; if it works, the
            //          client holds the slot: set `client.holds[slot]` and
            //          add one to `self.holders[slot]`.
            // BEGIN SOLUTION
            self.ring.write(slot, &message.text);
            self.full_since = None;
            self.next_slot = (slot + 1) % SLOTS;
            for (fd, id) in message.to {
                let Some(client) = self.clients.get_mut(&fd) else {
                    continue;
                };
                if client.id != id || client.leaving {
                    continue;
                }
                if send_order(client, Order::Slot(slot as u32)).is_err() {
                    self.broken.push(fd);
                } else {
                    client.holds[slot] = true;
                    self.holders[slot] += 1;
                }
            }
            // END SOLUTION
        }
        // Nothing waits any more: the helpers may read their clients again.
        if self.stopped {
            self.stopped = false;
            self.send_to_all(Order::Go);
        }
    }

    /// Tells every helper to stop reading its client, once.
    fn stop_helpers(&mut self) {
        if !self.stopped {
            self.stopped = true;
            self.send_to_all(Order::Stop);
        }
    }

    /// Sends `order` to every helper but those on their way out.
    fn send_to_all(&mut self, order: Order) {
        for (&fd, client) in &self.clients {
            if !client.leaving && send_order(client, order).is_err() {
                self.broken.push(fd);
            }
        }
    }

    /// Disconnects, as stuck, every client whose helper holds `slot`.
    fn evict_holders(&mut self, slot: usize) {
        let stuck: Vec<RawFd> = self
            .clients
            .iter()
            .filter(|(_, client)| client.holds[slot])
            .map(|(&fd, _)| fd)
            .collect();
        for fd in stuck {
            self.evict(fd, "stuck: its helper did not copy a message in time");
        }
    }

    /// Disconnects a client whose helper cannot be trusted to go on: kills
    /// the helper (SIGKILL also ends a stopped process) and removes the
    /// client at once, freeing its slots. The helper may copy a slot that is
    /// being reused in the moment before it dies; its client is being
    /// disconnected anyway, and nobody else sees what it copies.
    fn evict(&mut self, fd: RawFd, why: &str) {
        let Some(client) = self.clients.get(&fd) else {
            return;
        };
        if let Some(pid) = client.pid {
            // SAFETY: kill takes no pointers. `pid` is our child, not reaped
            // yet (reaping clears it), so it is still the helper's.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        self.remove_client(fd, why);
    }

    /// Removes a client whose helper ended or was ended, and tells the
    /// others, unless they were told already.
    fn remove_client(&mut self, fd: RawFd, why: &str) {
        let Some(client) = self.clients.remove(&fd) else {
            return;
        };
        if let Err(err) = check(
            w_epoll_del_fd(self.epoll.as_raw_fd(), fd),
            "stop watching a helper's pipe",
        ) {
            eprintln!("{}: {err}", client.tag);
        }
        // Whatever it held, it holds no more.
        for (slot, &held) in client.holds.iter().enumerate() {
            if held {
                self.holders[slot] -= 1;
            }
        }
        if let Some(deadline) = client.deadline {
            self.deadlines.remove(&(deadline, fd));
        }
        if !client.leaving {
            self.post(&client.tag, DISCONNECTED, Some(fd));
        }
        eprintln!("{} disconnected ({why})", client.tag);
        // Dropping the client closes our ends of its pipes.
        drop(client);
        if !self.accepting
            && let Err(err) = self.resume_accepting()
        {
            eprintln!("{err}");
        }
    }

    /// Sets the idle deadline of `fd` to `--idle` seconds from `now`:
    /// when it joins, and whenever it sends a line.
    fn restart_idle_timer(&mut self, fd: RawFd, now: Instant) {
        let Some(secs) = self.idle_secs else {
            return;
        };
        let Some(client) = self.clients.get_mut(&fd) else {
            return;
        };
        // TODO 29: Take the client's old deadline, if any, out of
        //          `self.deadlines` (`client.deadline.take()`, then
        //          `self.deadlines.remove(&(old, fd))`), then set the new
        //          one, `now + Duration::from_secs(secs.into())`, both in
        //          `client.deadline` and in `self.deadlines` (`insert`).
        // BEGIN SOLUTION
        if let Some(old) = client.deadline.take() {
            self.deadlines.remove(&(old, fd));
        }
        let deadline = now + Duration::from_secs(secs.into());
        client.deadline = Some(deadline);
        self.deadlines.insert((deadline, fd));
        // END SOLUTION
    }

    /// Disconnects every user whose idle deadline has passed by `now`.
    fn expire_idle(&mut self, now: Instant) {
        // TODO 31: The deadlines are sorted, soonest first: while the first
        //          one (`self.deadlines.first()`) is not after `now`, take it
        //          out (`self.deadlines.pop_first()`) and
        //          `self.disconnect_idle(fd)` the user it belongs to. Stop at
        //          the first deadline still to come.
        // BEGIN SOLUTION
        while let Some(&(deadline, fd)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            self.disconnect_idle(fd);
        }
        // END SOLUTION
    }

    /// Tells a user's helper that its user was idle too long (the helper
    /// says so to the user and ends), and tells the others it left. Its
    /// deadline is already out of `deadlines`.
    fn disconnect_idle(&mut self, fd: RawFd) {
        let Some(secs) = self.idle_secs else {
            return;
        };
        let Some(client) = self.clients.get_mut(&fd) else {
            return;
        };
        client.deadline = None;
        client.leaving = true;
        if send_order(client, Order::Idle(secs)).is_err() {
            self.broken.push(fd);
        }
        let tag = client.tag.clone();
        eprintln!("{tag} idle for {secs} s: disconnecting");
        self.post(&tag, DISCONNECTED, Some(fd));
    }

    /// At the end: ends every helper (SIGTERM; SIGCONT too, for one that was
    /// stopped), and waits for all children, so that none outlives the room
    /// or stays a zombie.
    fn end_helpers(&mut self) {
        for client in self.clients.values() {
            if let Some(pid) = client.pid {
                // SAFETY: kill takes no pointers; `pid` is our child, not
                // reaped yet, so it is still the helper's.
                unsafe { libc::kill(pid, libc::SIGTERM) };
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGCONT) };
            }
        }
        self.clients.clear();
        loop {
            let mut status: c_int = 0;
            match check(
                // SAFETY: `status` is a valid c_int for waitpid to write.
                unsafe { libc::waitpid(-1, &mut status, 0) },
                "wait for a helper",
            ) {
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                // ECHILD: no child left.
                Err(_) => return,
            }
        }
    }

    fn tag_of(&self, fd: RawFd) -> String {
        self.clients
            .get(&fd)
            .map_or_else(String::new, |client| client.tag.clone())
    }

    /// Stops watching the listener while there are no descriptors to accept
    /// with (see lab 1's server).
    fn pause_accepting(&mut self) -> io::Result<()> {
        if self.accepting {
            check(
                w_epoll_del_fd(self.epoll.as_raw_fd(), self.listener.as_raw_fd()),
                "stop watching the listening socket",
            )?;
            self.accepting = false;
            eprintln!("out of file descriptors: new clients wait until one leaves");
        }
        Ok(())
    }

    /// Watches the listener again after `pause_accepting`.
    fn resume_accepting(&mut self) -> io::Result<()> {
        check(
            w_epoll_add_fd_in(self.epoll.as_raw_fd(), self.listener.as_raw_fd()),
            "watch the listening socket again",
        )?;
        self.accepting = true;
        Ok(())
    }
}

/// Writes one order to a helper's pipe. The pipe is non-blocking, and
/// never full while the helper runs (see `shm::SLOTS`), so "would block"
/// means the helper is stuck: an error, and the caller disconnects the
/// client. "Broken pipe" means the helper is ending on its own (its client
/// left): that is no error. Its report pipe reaches its end in a moment,
/// which removes the client as an ordinary leave and frees the slot sent;
/// were it ever to stay, the slot's stuck deadline would end it.
fn send_order(client: &Client, order: Order) -> io::Result<()> {
    // An order is far shorter than PIPE_BUF, so the write is all or nothing.
    match (&client.to_helper).write_all(&order.encode()) {
        Err(err) if err.kind() == ErrorKind::BrokenPipe => Ok(()),
        result => result,
    }
}

/// Logs how the reaped helper `pid` ended, unless it exited with status 0.
/// `status` packs either an exit code or the signal that killed it: the
/// `W*` macros take it apart (`WIFEXITED`, then `WEXITSTATUS`; or
/// `WIFSIGNALED`, then `WTERMSIG`).
fn log_end(pid: libc::pid_t, status: c_int) {
    if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            0 => {}
            code => eprintln!("helper {pid} exited with status {code}"),
        }
    } else if libc::WIFSIGNALED(status) {
        eprintln!(
            "helper {pid} was killed by signal {}",
            libc::WTERMSIG(status)
        );
    }
}

/// Whether an error says this process (EMFILE) or the system (ENFILE) has
/// no descriptor left.
fn is_out_of_descriptors(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
