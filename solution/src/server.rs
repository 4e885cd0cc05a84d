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
//! 3. Write what this round queued for each client, one `write` per client.
//!
//! The server never waits for one client. Its sockets are non-blocking, and
//! the bytes meant for a client go to that client's *outbox* first. What the
//! socket cannot take at once stays there, and only then does the server ask
//! epoll for `EPOLLOUT` on that socket, to hear when there is room again.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use libc::c_int;

use crate::cli::ServerArgs;
use crate::framing::LineBuffer;
use crate::protocol::{self, CONNECTED, DISCONNECTED, OUTBOX_LIMIT, push_message};
use crate::sys::{self, check, with_context};
use crate::w_epoll::{
    NO_EVENT, event_fd, is_readable, is_writable, w_epoll_add_fd_in, w_epoll_del_fd,
    w_epoll_update_fd_in, w_epoll_update_fd_inout,
};

/// The most events one `epoll_wait` returns. More stay ready and are
/// reported by the next call: nothing is lost by choosing a small number.
const MAX_EVENTS: usize = 256;

/// The size of the buffer every read goes into.
const READ_BUF_SIZE: usize = 64 * 1024;

/// An outbox keeps at most this much spare capacity once it is empty, so a
/// burst does not hold memory for the rest of the connection's life.
const OUTBOX_KEEP: usize = 64 * 1024;

/// How long to wait before trying `accept` again after running out of file
/// descriptors, in case the descriptors were freed by someone else.
const ACCEPT_RETRY_MS: c_int = 1000;

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
    /// Every read goes here; reused, so reading allocates nothing.
    read_buf: Box<[u8]>,
    /// The messages about to be sent to the others, formatted once.
    messages: Vec<u8>,
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
    /// Bytes waiting to be written to it, oldest first.
    outbox: Vec<u8>,
    /// Whether its epoll interest includes EPOLLOUT (it should exactly when
    /// the outbox is not empty after a write).
    wants_write: bool,
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
            read_buf: vec![0; READ_BUF_SIZE].into_boxed_slice(),
            messages: Vec::new(),
        })
    }

    /// The event loop. Returns `Ok` when asked to stop by a signal; dropping
    /// the server then closes every socket.
    fn serve(&mut self) -> io::Result<()> {
        let mut events = [NO_EVENT; MAX_EVENTS];
        loop {
            // Wait for ever, unless accepting is paused: then retry now and
            // then.
            let timeout = if self.accepting { -1 } else { ACCEPT_RETRY_MS };
            // TODO 10: Wait with `libc::epoll_wait(epfd, events.as_mut_ptr(),
            //          MAX_EVENTS as c_int, timeout)`. It returns how many
            //          entries of `events` it filled; retry if it was
            //          interrupted (ErrorKind::Interrupted). Then handle each
            //          event by its descriptor (`event_fd`): the listener
            //          means `self.accept_client()`, the signal descriptor
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
                    self.accept_client()?;
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
        }
    }

    /// Accepts one waiting connection. Errors that concern only that
    /// connection are logged; only a broken listener is an error.
    fn accept_client(&mut self) -> io::Result<()> {
        // TODO 11: Accept the new connection with `self.listener.accept()`.
        //          It can fail without anything being wrong with the server:
        //          WouldBlock (the connection is already gone: return Ok),
        //          out of file descriptors (`is_out_of_descriptors`: return
        //          `self.pause_accepting()`), or anything else (log it with
        //          `eprintln!` and return Ok). On success hand the stream to
        //          `self.admit`.
        // BEGIN SOLUTION
        let stream = match self.listener.accept() {
            Ok((stream, _)) => stream,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(err) if is_out_of_descriptors(&err) => return self.pause_accepting(),
            Err(err) => {
                eprintln!("accept failed: {err}");
                return Ok(());
            }
        };
        // END SOLUTION
        // STUB: let stream: TcpStream = todo!("TODO 11");
        if let Err(err) = self.admit(stream) {
            eprintln!("could not take a new client: {err}");
        }
        Ok(())
    }

    /// Makes an accepted connection a member of the chat.
    fn admit(&mut self, stream: TcpStream) -> io::Result<()> {
        // TODO 12: Make the socket non-blocking, name it by its peer address
        //          (`protocol::tag(stream.peer_addr()?)`: `peer_addr` is
        //          getpeername), and add it to the epoll set. Then tell the
        //          *others* that it connected: put `[TAG] (connected)` into
        //          `self.messages` with `push_message` and pass them to
        //          `self.clients.broadcast`. Last, insert a `Client::new` for
        //          it into `self.clients.by_fd`, so it hears from now on.
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
            self.receive(fd);
        }
        if is_writable(event) {
            self.flush(fd);
        }
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
        //          `self.remove_client(fd)`. Otherwise push the bytes into
        //          `client.inbox`, which calls you back with each complete
        //          line: format each into `self.messages` with `push_message`
        //          and the client's tag, then `self.clients.broadcast` them.
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
        // TODO 14: Append `bytes` to the outbox of every client but `from`.
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
            client.outbox.extend_from_slice(bytes);
            if client.outbox.len() > OUTBOX_LIMIT {
                self.too_slow.push(fd);
            }
        }
        // END SOLUTION
    }
}

impl Server {
    /// Writes as much of a client's outbox as its socket takes, with one
    /// `write`, and asks for EPOLLOUT exactly while bytes are left.
    fn flush(&mut self, fd: RawFd) {
        let epfd = self.epoll.as_raw_fd();
        let Some(client) = self.clients.by_fd.get_mut(&fd) else {
            return;
        };
        // TODO 15: If the outbox is not empty, `write` it to the socket once
        //          and remove the bytes that were written from its front
        //          (`drain`). WouldBlock or Interrupted: nothing was written,
        //          try again later. Another error: the client is gone,
        //          `self.remove_client(fd)`. Then, if "bytes are left"
        //          differs from `client.wants_write`, switch its interest
        //          with `w_epoll_update_fd_inout` / `w_epoll_update_fd_in`
        //          and update `wants_write`.
        // BEGIN SOLUTION
        if !client.outbox.is_empty() {
            match client.stream.write(&client.outbox) {
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
        if client.outbox.is_empty() {
            client.outbox.shrink_to(OUTBOX_KEEP);
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
        // TODO 16: Take the socket out of the epoll set (`w_epoll_del_fd`;
        //          log a failure, do not stop), and only then close it by
        //          dropping `stream`. Then tell the others: first the rest of
        //          the client's unfinished line, if any (`inbox.finish`, like
        //          `inbox.push` in TODO 13), then `[TAG] (disconnected)`,
        //          both into `self.messages` and out with
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
        if !self.accepting {
            if let Err(err) = self.resume_accepting() {
                eprintln!("{err}");
            }
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
            outbox: Vec::new(),
            wants_write: false,
        }
    }
}

/// Whether `accept` failed because this process (EMFILE) or the whole system
/// (ENFILE) has no file descriptor left for the new socket.
fn is_out_of_descriptors(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
