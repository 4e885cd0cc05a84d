//! The chat server: one thread, one epoll instance, every client in it.
//!
//! The event loop, in short:
//!
//! 1. `epoll_wait` until some descriptors are ready.
//! 2. For each ready descriptor:
//!    - the listening socket: accept the newcomer, watch its socket, tell the
//!      others that it connected;
//!    - a client that is readable: read what it sent and forward every
//!      complete line to the others; a read of 0 bytes means it left;
//!    - a client that is writable: write more of what is queued for it;
//!    - the signal descriptor: SIGINT or SIGTERM arrived, so stop.
//! 3. Write what this round queued for each client, one `writev` per client.
//!
//! The server never waits for one client. Its sockets are non-blocking, and
//! the bytes meant for a client go to that client's *outbox* first. What the
//! socket cannot take at once stays there, and only then does the server ask
//! epoll for `EPOLLOUT` on that socket, to hear when there is room again.
//!
//! And it never reads faster than its clients take what it writes: when the
//! clients that are reading fall too far behind, it stops reading new lines
//! until they catch up (flow control, `falling_behind` and `catch_up`).

use std::collections::{HashMap, VecDeque};
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use libc::c_int;

use crate::cli::ServerArgs;
use crate::framing::LineBuffer;
use crate::protocol::{self, CONNECTED, DISCONNECTED, OUTBOX_LIMIT, push_message};
use crate::sys::{self, check, with_context};
use crate::w_epoll::{
    NO_EVENT, event_fd, is_readable, is_writable, w_epoll_add_fd_in, w_epoll_del_fd,
    w_epoll_update_fd, w_epoll_update_fd_in, w_epoll_update_fd_inout,
};

/// The most events one `epoll_wait` returns. More stay ready and are
/// reported by the next call: nothing is lost by choosing a small number.
const MAX_EVENTS: usize = 256;

/// The size of the buffer every read goes into.
const READ_BUF_SIZE: usize = 64 * 1024;

/// The most connections accepted in one round: a burst of newcomers costs
/// one round of writes, not one round each, and cannot starve the chat.
const ACCEPTS_PER_ROUND: usize = 64;

/// How long `epoll_wait` may sleep while accepting or reading is paused: then
/// the server looks again at whether it can resume, in case what it waits
/// for (a free descriptor, a client that stopped reading) sends no event.
const PAUSED_WAIT_MS: c_int = 1000;

/// Flow control: when the clients that are taking bytes fall this far
/// behind (bytes queued for them in all, or for any one of them), the server
/// stops reading what clients send, and TCP slows the senders down. It reads
/// again once they are back under a quarter of that. Without it, a flood of
/// lines would push readers that are merely slower than the senders past
/// OUTBOX_LIMIT, and drop them.
const BEHIND_TOTAL: usize = 4 * 1024 * 1024;
const BEHIND_ONE: usize = OUTBOX_LIMIT / 2;

/// A client that takes no bytes for this long is stuck, not slow: its queue
/// does not hold the others back (it grows to OUTBOX_LIMIT, and the client
/// is dropped).
const STUCK_AFTER: Duration = Duration::from_secs(1);

/// Runs the server until SIGINT or SIGTERM: binds, prints the readiness line,
/// then serves. Returns an error if it cannot start, or if the event loop
/// itself fails.
pub fn run(args: &ServerArgs) -> io::Result<()> {
    // std's `bind` sets SO_REUSEADDR before binding (on Unix), so a server
    // restarted at once can take its port back while old connections linger.
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, args.port))
        .map_err(|err| with_context(err, &format!("listen on 0.0.0.0:{}", args.port)))?;
    // Non-blocking, so that `accept` returns WouldBlock instead of waiting if
    // the connection epoll told us about is already gone.
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let signals = sys::shutdown_signals()?;
    let mut server = Server::new(listener, signals)?;

    // The readiness line: everything is in place, clients may connect.
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", protocol::readiness_line(port))?;
    stdout.flush()?;
    drop(stdout);

    server.serve()
}

/// Everything the server knows.
struct Server {
    /// The epoll instance that watches every descriptor below.
    epoll: OwnedFd,
    /// The socket new clients connect to.
    listener: TcpListener,
    /// Readable when SIGINT or SIGTERM arrives (see `sys::shutdown_signals`).
    signals: OwnedFd,
    /// Whether the listener is in the epoll set. It is taken out while
    /// `accept` fails for lack of file descriptors, which would otherwise
    /// wake the loop again at once, forever.
    accepting: bool,
    /// The connected clients.
    clients: Clients,
    /// Whether reading is paused because the clients are too far behind
    /// (see BEHIND_TOTAL); the clients whose EPOLLIN was taken off meanwhile
    /// are in `paused`.
    behind: bool,
    paused: Vec<RawFd>,
    /// Every read goes here; reused, so reading allocates nothing.
    read_buf: Box<[u8]>,
    /// The messages about to be sent to the others, formatted once.
    messages: Vec<u8>,
    // BEGIN REFERENCE
    /// Write after every event instead of once per round (set by the
    /// environment variable CHAT_WRITE_AT_ONCE): for the benchmark that
    /// shows what batching the writes buys.
    write_at_once: bool,
    // END REFERENCE
}

/// The connected clients, and what the server still has to do for them.
#[derive(Default)]
struct Clients {
    /// Each client, found by the descriptor of its socket: that is what
    /// `epoll_wait` tells us.
    by_fd: HashMap<RawFd, Client>,
    /// Clients whose outbox got bytes in this round, to write at its end.
    unflushed: Vec<RawFd>,
    /// Clients whose outbox went over `OUTBOX_LIMIT`, to disconnect.
    too_slow: Vec<RawFd>,
}

/// One connected client.
struct Client {
    /// Its socket (non-blocking). Dropping it closes the socket.
    stream: TcpStream,
    /// Its name in the chat, `[IP:PORT]`.
    tag: String,
    /// The bytes of its line that has not ended yet.
    inbox: LineBuffer,
    /// Bytes waiting to be written to it, oldest first: a ring buffer, so
    /// taking bytes from its front never moves the rest. It keeps its
    /// capacity when empty: growing it again costs more than the memory,
    /// which OUTBOX_LIMIT bounds anyway.
    outbox: VecDeque<u8>,
    /// Whether its epoll interest includes EPOLLOUT (it should exactly when
    /// the outbox is not empty after a write).
    wants_write: bool,
    /// When it last took bytes, or its outbox last became non-empty: how
    /// the server tells a stuck client from a slow one.
    last_progress: Instant,
}

impl Server {
    fn new(listener: TcpListener, signals: OwnedFd) -> io::Result<Self> {
        // TODO 9: Create the epoll instance (`sys::epoll_create`), then add
        //         the listening socket and the signal descriptor to it with
        //         `w_epoll_add_fd_in`. Wrap each wrapper call in `check` so a
        //         failure becomes an error that says what failed.
        // BEGIN SOLUTION
        let epoll = sys::epoll_create()?;
        check(
            w_epoll_add_fd_in(epoll.as_raw_fd(), listener.as_raw_fd()),
            "watch the listening socket",
        )?;
        check(
            w_epoll_add_fd_in(epoll.as_raw_fd(), signals.as_raw_fd()),
            "watch the signal descriptor",
        )?;
        // END SOLUTION
        // STUB: let epoll: OwnedFd = todo!("TODO 9");
        Ok(Self {
            epoll,
            listener,
            signals,
            accepting: true,
            clients: Clients::default(),
            behind: false,
            paused: Vec::new(),
            read_buf: vec![0; READ_BUF_SIZE].into_boxed_slice(),
            messages: Vec::new(),
            // BEGIN REFERENCE
            write_at_once: std::env::var_os("CHAT_WRITE_AT_ONCE").is_some(),
            // END REFERENCE
        })
    }

    /// The event loop. Returns `Ok` when asked to stop by a signal; dropping
    /// the server then closes every socket.
    fn serve(&mut self) -> io::Result<()> {
        let mut events = [NO_EVENT; MAX_EVENTS];
        loop {
            // Wait for ever, unless accepting or reading is paused: then
            // look again now and then.
            let timeout = if self.accepting && !self.behind {
                -1
            } else {
                PAUSED_WAIT_MS
            };
            // TODO 10: Wait with `libc::epoll_wait(epfd, events.as_mut_ptr(),
            //          MAX_EVENTS as c_int, timeout)`, through `check`. It
            //          returns how many entries of `events` it filled; retry
            //          if it was interrupted (ErrorKind::Interrupted). Then
            //          handle exactly those entries (`&events[..ready]`),
            //          each by its descriptor (`event_fd`): the listener
            //          means `self.accept_clients()`, the signal descriptor
            //          means stop (return Ok), anything else is a client:
            //          `self.on_client_event(fd, event)`.
            // BEGIN SOLUTION
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
            let ready = match check(ready, "wait for events") {
                Ok(count) => count as usize,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            for event in &events[..ready] {
                let fd = event_fd(event);
                if fd == self.listener.as_raw_fd() {
                    self.accept_clients()?;
                } else if fd == self.signals.as_raw_fd() {
                    return Ok(());
                } else {
                    self.on_client_event(fd, event);
                }
            }
            // END SOLUTION
            // STUB: let ready: usize = todo!("TODO 10");
            if ready == 0 && !self.accepting {
                self.resume_accepting()?;
            }
            self.finish_round();
            self.catch_up();
        }
    }

    /// Accepts the connections waiting on the listener, at most
    /// ACCEPTS_PER_ROUND. Errors that concern one connection are logged;
    /// only a broken listener is an error.
    fn accept_clients(&mut self) -> io::Result<()> {
        for _ in 0..ACCEPTS_PER_ROUND {
            // TODO 11: Accept a waiting connection with
            //          `self.listener.accept()`. It can fail without anything
            //          being wrong with the server: WouldBlock means nobody
            //          else is waiting (return Ok); out of file descriptors
            //          (`is_out_of_descriptors`) means return
            //          `self.pause_accepting()`; anything else concerns only
            //          that connection: log it with `eprintln!` and
            //          `continue` with the next. The code after your block
            //          hands the stream to `self.admit`.
            // BEGIN SOLUTION
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(err) if is_out_of_descriptors(&err) => return self.pause_accepting(),
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    continue;
                }
            };
            // END SOLUTION
            // STUB: let stream: TcpStream = todo!("TODO 11");
            if let Err(err) = self.admit(stream) {
                eprintln!("could not take a new client: {err}");
            }
        }
        Ok(())
    }

    /// Makes an accepted connection a member of the chat.
    fn admit(&mut self, stream: TcpStream) -> io::Result<()> {
        // TODO 12: Make the socket non-blocking (`set_nonblocking`), name it
        //          by its peer address (`protocol::tag(stream.peer_addr()?)`:
        //          `peer_addr` is getpeername), and add it to the epoll set
        //          (`w_epoll_add_fd_in`, through `check`). Then tell the
        //          *others* that it connected: clear `self.messages`, put
        //          `[TAG] (connected)` into it with `push_message`, pass it
        //          to `self.clients.broadcast`, and log `TAG connected` to
        //          stderr. Last, insert a `Client::new` for it into
        //          `self.clients.by_fd`, so it hears from now on.
        // BEGIN SOLUTION
        stream.set_nonblocking(true)?;
        let tag = protocol::tag(stream.peer_addr()?);
        let fd = stream.as_raw_fd();
        check(
            w_epoll_add_fd_in(self.epoll.as_raw_fd(), fd),
            "watch a new client",
        )?;
        self.messages.clear();
        push_message(&mut self.messages, &tag, CONNECTED);
        self.clients.broadcast(fd, &self.messages);
        eprintln!("{tag} connected");
        self.clients.by_fd.insert(fd, Client::new(stream, tag));
        // END SOLUTION
        Ok(())
    }

    /// Handles one event on a client's socket.
    fn on_client_event(&mut self, fd: RawFd, event: &libc::epoll_event) {
        // Read first: if the client also hung up, its last lines still get
        // forwarded before it is removed.
        if is_readable(event) {
            // While behind, new lines wait in the kernel; a hang-up or an
            // error is still handled now (epoll reports those whatever we
            // ask for, so ignoring them would spin).
            let hangup = event.events & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
            if !hangup && self.falling_behind() {
                self.pause_reading(fd);
            } else {
                self.receive(fd);
            }
        }
        if is_writable(event) {
            self.flush(fd);
        }
        // BEGIN REFERENCE
        if self.write_at_once {
            self.finish_round();
        }
        // END REFERENCE
    }

    /// Reads what a client sent, and forwards every line it completes.
    fn receive(&mut self, fd: RawFd) {
        let Some(client) = self.clients.by_fd.get_mut(&fd) else {
            return;
        };
        // TODO 13: Read once from `client.stream` into `self.read_buf`.
        //          (epoll is level-triggered: if more bytes wait, the next
        //          `epoll_wait` reports the socket again.) 0 bytes means the
        //          client left, and an error other than WouldBlock or
        //          Interrupted means its connection failed: in both cases
        //          `self.remove_client(fd)`. Otherwise clear
        //          `self.messages` and push the bytes into `client.inbox`,
        //          which calls you back with each complete line: format
        //          each into `self.messages` with `push_message` and the
        //          client's tag, then `self.clients.broadcast` them.
        // BEGIN SOLUTION
        let count = match client.stream.read(&mut self.read_buf) {
            Ok(0) => return self.remove_client(fd),
            Ok(count) => count,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return;
            }
            Err(_) => return self.remove_client(fd),
        };
        self.messages.clear();
        let messages = &mut self.messages;
        let tag = &client.tag;
        client.inbox.push(&self.read_buf[..count], |line| {
            push_message(messages, tag, line);
        });
        self.clients.broadcast(fd, &self.messages);
        // END SOLUTION
    }
}

impl Clients {
    /// Queues `bytes` for every client except `from`. Nothing is written
    /// here: the writes happen at the end of the round, one per client.
    fn broadcast(&mut self, from: RawFd, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // TODO 14: Append `bytes` to the outbox of every client but `from`
        //          (`outbox.extend(bytes)`).
        //          Skip a client whose outbox is already over OUTBOX_LIMIT
        //          (it is about to be disconnected). Before appending to an
        //          empty outbox, push the client's fd onto `self.unflushed`,
        //          so it gets written at the end of the round; after
        //          appending, if the outbox went over OUTBOX_LIMIT, push the
        //          fd onto `self.too_slow`.
        // BEGIN SOLUTION
        for (&fd, client) in &mut self.by_fd {
            if fd == from || client.outbox.len() > OUTBOX_LIMIT {
                continue;
            }
            if client.outbox.is_empty() {
                self.unflushed.push(fd);
            }
            client.outbox.extend(bytes);
            if client.outbox.len() > OUTBOX_LIMIT {
                self.too_slow.push(fd);
            }
        }
        // END SOLUTION
    }
}

impl Server {
    /// Writes as much of a client's outbox as its socket takes, with one
    /// `writev`, and asks for EPOLLOUT exactly while bytes are left.
    fn flush(&mut self, fd: RawFd) {
        let epfd = self.epoll.as_raw_fd();
        let Some(client) = self.clients.by_fd.get_mut(&fd) else {
            return;
        };
        // For flow control (`queued_for_readers`): a client makes progress
        // when it takes bytes, or when its outbox was empty until this
        // round (it was not waiting for EPOLLOUT).
        let queued = client.outbox.len();
        let was_waiting = client.wants_write;
        // TODO 15: If the outbox is not empty, write it to the socket with one
        //          `write_vectored` of its two halves (`outbox.as_slices()`:
        //          a ring buffer holds its bytes in up to two pieces), and
        //          remove the bytes written from its front
        //          (`drain(..written)`). WouldBlock or Interrupted: nothing
        //          was written, try again later. Another error: the client
        //          is gone, `self.remove_client(fd)`. Then, if "bytes are
        //          left" differs from `client.wants_write`, switch its
        //          interest with `w_epoll_update_fd_inout` /
        //          `w_epoll_update_fd_in` and update `wants_write`; if
        //          that fails (`check`), log it and `self.remove_client(fd)`.
        // BEGIN SOLUTION
        if !client.outbox.is_empty() {
            let (front, back) = client.outbox.as_slices();
            match client
                .stream
                .write_vectored(&[IoSlice::new(front), IoSlice::new(back)])
            {
                Ok(written) => {
                    client.outbox.drain(..written);
                }
                Err(err)
                    if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                Err(_) => return self.remove_client(fd),
            }
        }
        let bytes_left = !client.outbox.is_empty();
        if bytes_left != client.wants_write {
            let ret = if bytes_left {
                w_epoll_update_fd_inout(epfd, fd)
            } else {
                w_epoll_update_fd_in(epfd, fd)
            };
            if let Err(err) = check(ret, "switch EPOLLOUT") {
                eprintln!("{}: {err}", client.tag);
                return self.remove_client(fd);
            }
            client.wants_write = bytes_left;
        }
        // END SOLUTION
        if client.outbox.len() < queued || !was_waiting {
            client.last_progress = Instant::now();
        }
    }

    /// Removes a client that left or failed, and tells the others.
    fn remove_client(&mut self, fd: RawFd) {
        let Some(client) = self.clients.by_fd.remove(&fd) else {
            return;
        };
        let Client {
            stream,
            tag,
            mut inbox,
            ..
        } = client;
        // TODO 16: Take the socket out of the epoll set (`w_epoll_del_fd`,
        //          through `check`; log a failure, do not stop), and only
        //          then close it by
        //          dropping `stream`. Then tell the others: first the rest of
        //          the client's unfinished line, if any (`inbox.finish`, like
        //          `inbox.push` in TODO 13), then `[TAG] (disconnected)`,
        //          both into a cleared `self.messages` with `push_message`,
        //          and out with
        //          `self.clients.broadcast`.
        // BEGIN SOLUTION
        if let Err(err) = check(
            w_epoll_del_fd(self.epoll.as_raw_fd(), fd),
            "stop watching a client",
        ) {
            eprintln!("{tag}: {err}");
        }
        drop(stream);
        self.messages.clear();
        let messages = &mut self.messages;
        inbox.finish(|line| push_message(messages, &tag, line));
        push_message(&mut self.messages, &tag, DISCONNECTED);
        self.clients.broadcast(fd, &self.messages);
        // END SOLUTION
        eprintln!("{tag} disconnected");
        // A descriptor was just freed: if accepting was paused, resume.
        if !self.accepting
            && let Err(err) = self.resume_accepting()
        {
            eprintln!("{err}");
        }
    }

    /// Ends a round of events: disconnects the clients that fell too far
    /// behind, then writes what the round queued. Either step can queue more
    /// (a disconnect notice, say), so go on until nothing is left to do.
    fn finish_round(&mut self) {
        loop {
            if let Some(fd) = self.clients.too_slow.pop() {
                // The fd may since have been closed and reused by a newcomer:
                // only a client that is still over the limit goes.
                if self
                    .clients
                    .by_fd
                    .get(&fd)
                    .is_some_and(|client| client.outbox.len() > OUTBOX_LIMIT)
                {
                    eprintln!("disconnecting a client that does not read");
                    self.remove_client(fd);
                }
            } else if let Some(fd) = self.clients.unflushed.pop() {
                self.flush(fd);
            } else {
                return;
            }
        }
    }

    /// Flow control, before each read: whether the clients that are taking
    /// bytes are too far behind (BEHIND_TOTAL, BEHIND_ONE). Checked before
    /// every read, because one read can queue its lines for every client.
    /// Once behind, the server stays so until `catch_up`.
    fn falling_behind(&mut self) -> bool {
        if !self.behind {
            let (total, most) = self.queued_for_readers();
            self.behind = total > BEHIND_TOTAL || most > BEHIND_ONE;
        }
        self.behind
    }

    /// Flow control, once a round: when the clients are back under a
    /// quarter of both limits, reads again from every client it paused.
    fn catch_up(&mut self) {
        if !self.behind {
            return;
        }
        let (total, most) = self.queued_for_readers();
        if total < BEHIND_TOTAL / 4 && most < BEHIND_ONE / 4 {
            self.behind = false;
            for fd in std::mem::take(&mut self.paused) {
                self.resume_reading(fd);
            }
        }
    }

    /// The bytes queued for the clients that are not stuck (see
    /// STUCK_AFTER): in all, and for the one most behind.
    fn queued_for_readers(&self) -> (usize, usize) {
        let now = Instant::now();
        self.clients
            .by_fd
            .values()
            .filter(|client| now.duration_since(client.last_progress) < STUCK_AFTER)
            .map(|client| client.outbox.len())
            .fold((0, 0), |(total, most), queued| {
                (total + queued, most.max(queued))
            })
    }

    /// Takes EPOLLIN off a client while the server is behind: what it sends
    /// waits in the kernel, and TCP slows it down.
    fn pause_reading(&mut self, fd: RawFd) {
        let Some(client) = self.clients.by_fd.get(&fd) else {
            return;
        };
        let events = if client.wants_write {
            libc::EPOLLOUT
        } else {
            0
        };
        if let Err(err) = check(
            w_epoll_update_fd(self.epoll.as_raw_fd(), fd, events),
            "pause reading",
        ) {
            eprintln!("{}: {err}", client.tag);
            return self.remove_client(fd);
        }
        self.paused.push(fd);
    }

    /// Puts EPOLLIN back on a client paused by `pause_reading`.
    fn resume_reading(&mut self, fd: RawFd) {
        let Some(client) = self.clients.by_fd.get(&fd) else {
            return;
        };
        let ret = if client.wants_write {
            w_epoll_update_fd_inout(self.epoll.as_raw_fd(), fd)
        } else {
            w_epoll_update_fd_in(self.epoll.as_raw_fd(), fd)
        };
        if let Err(err) = check(ret, "resume reading") {
            eprintln!("{}: {err}", client.tag);
            self.remove_client(fd);
        }
    }

    /// Stops watching the listener until descriptors are free again: while
    /// `accept` cannot succeed, the waiting connection would keep the
    /// listener readable and `epoll_wait` would return at once, for ever.
    fn pause_accepting(&mut self) -> io::Result<()> {
        check(
            w_epoll_del_fd(self.epoll.as_raw_fd(), self.listener.as_raw_fd()),
            "stop watching the listening socket",
        )?;
        self.accepting = false;
        eprintln!("out of file descriptors: new clients wait until one leaves");
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

impl Client {
    fn new(stream: TcpStream, tag: String) -> Self {
        Self {
            stream,
            tag,
            inbox: LineBuffer::new(),
            outbox: VecDeque::new(),
            wants_write: false,
            last_progress: Instant::now(),
        }
    }
}

/// Whether `accept` failed because this process (EMFILE) or the whole system
/// (ENFILE) has no file descriptor left for the new socket.
fn is_out_of_descriptors(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
