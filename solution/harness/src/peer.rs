//! [`Peer`]: a raw TCP connection playing one side of the chat. It sends
//! exactly the bytes given, records each send as a step of its
//! [`Context`], and checks what arrives line by line. [`FakeServer`] plays
//! the server's side for a client under test.

use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::failure::{Failure, Outcome};
use crate::inbox::{ABORT_CHECK, Inbox};
use crate::net::{self, SocketOptions};
use crate::show::show;

/// How a peer is set up.
#[derive(Debug, Clone, Copy)]
pub struct PeerOptions {
    /// The loopback address to connect from.
    pub from: Ipv4Addr,
    /// A small receive buffer makes a peer that does not read fill up fast.
    pub receive_buffer: Option<usize>,
    /// Whether the peer reads what arrives (it can start later).
    pub reads: bool,
    /// Whether its connecting is left out of the steps (for a crowd, which
    /// the test describes in one step of its own).
    pub quiet: bool,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            from: Ipv4Addr::LOCALHOST,
            receive_buffer: None,
            reads: true,
            quiet: false,
        }
    }
}

/// A raw TCP peer: sends exactly the bytes given, checks what arrives.
#[derive(Debug)]
pub struct Peer<'c> {
    context: &'c Context,
    /// A, B, C, ...: how steps and messages name it.
    pub name: String,
    /// `[IP:PORT]`: how the server should name it (from getsockname).
    pub tag: String,
    stream: TcpStream,
    inbox: Option<Inbox>,
    /// Set by `reset`: the connection must end with RST, not FIN.
    abort: bool,
}

impl Context {
    /// Connects a new raw TCP peer, named A, B, C ..., from 127.0.0.1.
    pub fn peer(&self, port: u16) -> Result<Peer<'_>, Failure> {
        self.peer_with(port, PeerOptions::default())
    }

    /// Connects a new raw TCP peer with the given options.
    pub fn peer_with(&self, port: u16, options: PeerOptions) -> Result<Peer<'_>, Failure> {
        self.peer_named(port, &self.next_peer_name(), options)
    }

    /// Connects a new raw TCP peer called `name`.
    pub fn peer_named(
        &self,
        port: u16,
        name: &str,
        options: PeerOptions,
    ) -> Result<Peer<'_>, Failure> {
        let socket = SocketOptions {
            from: options.from,
            receive_buffer: options.receive_buffer,
        };
        let stream = net::connect(port, socket, self.until()).map_err(|err| {
            Failure::new(format!(
                "{name} could not connect to port {port} from {}: {err}",
                options.from
            ))
        })?;
        let peer = Peer::over(self, name, stream, options.reads)?;
        if !options.quiet {
            self.step(format!("{name} connects, as {}", peer.tag));
        }
        Ok(peer)
    }

    /// Connects `count` peers, each known to be in the chat before the next
    /// connects, and drains what setting them up sent them: the checks
    /// start from clean inboxes.
    ///
    /// The barriers rely on broadcasting alone, so a server that forgets
    /// join notices, or also sends a line back to its sender, loses only the
    /// checks about that. Each newcomer says `hello`, and the earlier peers
    /// wait for it: the server is single-threaded and read that line after
    /// accepting the newcomer, so the newcomer is in the chat. Then one more
    /// peer, `sync`, says `ready`, and every peer drops whatever came before
    /// it (join notices, a wrong echo of its own hello). `sync` stays
    /// connected and silent for the rest of the check, unread, so that no
    /// notice about it reaches the others.
    pub fn set_up_peers(&self, port: u16, count: usize) -> Result<Peers<'_>, Failure> {
        self.step(format!(
            "{count} peers connect, each saying \"hello\" once the earlier ones got the previous hello; \
             then one more peer, `sync`, says \"ready\" (and nothing else), and every peer drops what came before"
        ));
        let mut peers: Vec<Peer<'_>> = Vec::with_capacity(count);
        for _ in 0..count {
            let mut newcomer = self.peer(port)?;
            if !peers.is_empty() {
                newcomer.send_quietly(b"hello\n")?;
                for peer in &peers {
                    peer.expect_eventually(&format!("{} hello", newcomer.tag))?;
                }
            }
            peers.push(newcomer);
        }
        let mut sync = self.peer_named(port, "sync", PeerOptions::default())?;
        sync.send_quietly(b"ready\n")?;
        let ready = format!("{} ready", sync.tag);
        for peer in &peers {
            peer.expect_eventually(&ready)?;
        }
        sync.inbox().transcript_only();
        Ok(Peers { peers, _sync: sync })
    }
}

/// The peers of a test, set up by [`Context::set_up_peers`]; indexes and slices
/// like a `Vec<Peer>`. The silent `sync` peer of the setup lives as long.
#[derive(Debug)]
pub struct Peers<'c> {
    peers: Vec<Peer<'c>>,
    _sync: Peer<'c>,
}

impl<'c> std::ops::Deref for Peers<'c> {
    type Target = Vec<Peer<'c>>;
    fn deref(&self) -> &Self::Target {
        &self.peers
    }
}

impl<'a, 'c> IntoIterator for &'a Peers<'c> {
    type Item = &'a Peer<'c>;
    type IntoIter = std::slice::Iter<'a, Peer<'c>>;
    fn into_iter(self) -> Self::IntoIter {
        self.peers.iter()
    }
}

impl std::ops::DerefMut for Peers<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.peers
    }
}

impl<'c> Peer<'c> {
    /// A peer called `name` over a connected `stream`, reading it if
    /// `reads`.
    fn over(
        context: &'c Context,
        name: &str,
        stream: TcpStream,
        reads: bool,
    ) -> Result<Self, Failure> {
        let tag = net::tag_of(&stream)
            .map_err(|err| Failure::new(format!("getsockname of {name}'s socket: {err}")))?;
        let mut peer = Peer {
            context,
            name: name.to_owned(),
            tag,
            stream,
            inbox: None,
            abort: false,
        };
        if reads {
            peer.start_reading()?;
        }
        Ok(peer)
    }

    /// The peer's own port, which the server sees as its remote port (0 if
    /// the socket cannot say, which no connection has).
    pub fn port(&self) -> u16 {
        self.stream.local_addr().map_or(0, |address| address.port())
    }

    /// Starts collecting what arrives, for a peer that did not read so far.
    pub fn start_reading(&mut self) -> Outcome {
        let reader = self
            .stream
            .try_clone()
            .map_err(|err| Failure::new(format!("clone a socket: {err}")))?;
        self.inbox = Some(self.context.watch(self.name.clone(), reader));
        Ok(())
    }

    /// Sends `bytes` and records the step.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) -> Outcome {
        let bytes = bytes.as_ref();
        self.context
            .step(format!("{} sends {}", self.name, show(bytes)));
        self.send_quietly(bytes)
    }

    /// Sends `bytes` without recording a step (for bulk sends that a test
    /// describes in one step of its own).
    pub fn send_quietly(&mut self, bytes: &[u8]) -> Outcome {
        let left = self
            .context
            .until()
            .saturating_duration_since(Instant::now());
        let written = self
            .stream
            .set_write_timeout(Some(left.max(Duration::from_millis(1))))
            .and_then(|()| self.stream.write_all(bytes));
        written.map_err(|err| {
            let why = if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                "the server stopped reading it".to_owned()
            } else {
                err.to_string()
            };
            Failure::new(format!("{} could not send: {why}", self.name))
        })
    }

    /// What arrived.
    ///
    /// # Panics
    ///
    /// For a peer that does not read ([`PeerOptions::reads`]): a mistake in
    /// the test, not in the program under test.
    pub fn inbox(&self) -> &Inbox {
        self.inbox
            .as_ref()
            .expect("a peer that reads (see PeerOptions::reads)")
    }

    /// Waits for the next line; returns it without its `\n`.
    pub fn next_line(&self) -> Result<Vec<u8>, Failure> {
        self.inbox().next_line(self.context.until())
    }

    /// Waits for the next line and checks it is `line`.
    pub fn expect_line(&self, line: impl AsRef<[u8]>) -> Outcome {
        self.inbox()
            .expect_line(line.as_ref(), self.context.until())
    }

    /// Like [`Peer::next_line`], giving up as soon as `abort` says so.
    pub fn next_line_unless(&self, abort: &dyn Fn() -> Option<String>) -> Result<Vec<u8>, Failure> {
        self.inbox().next_line_unless(self.context.until(), abort)
    }

    /// Like [`Peer::expect_line`], giving up as soon as `abort` says so.
    pub fn expect_line_unless(
        &self,
        line: impl AsRef<[u8]>,
        abort: &dyn Fn() -> Option<String>,
    ) -> Outcome {
        self.inbox()
            .expect_line_unless(line.as_ref(), self.context.until(), abort)
    }

    /// Waits for the next line and checks it is `[OTHER] text`.
    pub fn expect_from(&self, other: &Peer<'_>, text: &str) -> Outcome {
        self.expect_line(format!("{} {text}", other.tag))
    }

    /// Waits for `line`, whatever comes before it (for setting up, where
    /// nothing else is being checked).
    pub fn expect_eventually(&self, line: &str) -> Outcome {
        let until = self.context.until();
        while self.inbox().next_line(until)? != line.as_bytes() {}
        Ok(())
    }

    /// Waits for `line`, skipping join and leave notices on the way (when
    /// they are not what is being checked).
    pub fn expect_after_notices(&self, line: &str) -> Outcome {
        let until = self.context.until();
        loop {
            let got = self.inbox().next_line(until)?;
            if got == line.as_bytes() {
                return Ok(());
            }
            if !(got.ends_with(b"] (connected)") || got.ends_with(b"] (disconnected)")) {
                return Err(Failure {
                    summary: format!("{} received an unexpected line", self.name),
                    expected: Some(format!("the line {}", show(line.as_bytes()))),
                    seen: Some(format!("the line {}", show(&got))),
                    ..Failure::default()
                });
            }
        }
    }

    /// Waits for the next line and checks it says `other` connected.
    pub fn expect_join(&self, other: &Peer<'_>) -> Outcome {
        self.expect_from(other, "(connected)")
    }

    /// Waits for the next line and checks it says `other` disconnected.
    pub fn expect_leave(&self, other: &Peer<'_>) -> Outcome {
        self.expect_from(other, "(disconnected)")
    }

    /// Waits for the server to close this connection (an end of stream or
    /// a reset), with nothing else arriving first.
    pub fn expect_closed(&self) -> Outcome {
        let rest = self.inbox().wait_end(self.context.until())?;
        if rest.is_empty() {
            Ok(())
        } else {
            Err(Failure {
                summary: format!("{} received more before the connection closed", self.name),
                expected: Some("the connection to close".into()),
                seen: Some(show(&rest)),
                ..Failure::default()
            })
        }
    }

    /// Closes the connection in the orderly way (FIN).
    pub fn close(self) {
        self.context
            .step(format!("{} closes its connection", self.name));
    }

    /// Closes the connection abruptly: RST instead of FIN.
    pub fn reset(mut self) {
        self.abort = true;
        self.context
            .step(format!("{} resets its connection (RST)", self.name));
        net::reset_on_close(&self.stream);
    }
}

impl Drop for Peer<'_> {
    fn drop(&mut self) {
        // The inbox thread holds a clone of the socket, so dropping ours
        // alone would not close the connection. Shutting down the reading
        // side wakes that thread, which then drops its clone; shutting down
        // the writing side too sends FIN at once. A reset must not send FIN
        // first: then the last close sends RST.
        let how = if self.abort {
            Shutdown::Read
        } else {
            Shutdown::Both
        };
        let _ = self.stream.shutdown(how);
    }
}

/// A listening socket playing the server, for tests of a client that need
/// to control the server's side of the connection exactly.
#[derive(Debug)]
pub struct FakeServer {
    listener: TcpListener,
}

impl FakeServer {
    /// Listens on a free port of 127.0.0.1.
    pub fn start() -> Result<FakeServer, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|err| Failure::new(format!("could not listen on 127.0.0.1: {err}")))?;
        Ok(FakeServer { listener })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Waits until the client connects, giving up early when `abort` says
    /// so (the client exited, say); the connection is a peer named `name`
    /// (its tag is the fake server's side, which nobody checks).
    pub fn accept<'c>(
        &self,
        context: &'c Context,
        name: &str,
        abort: &dyn Fn() -> Option<String>,
    ) -> Result<Peer<'c>, Failure> {
        let listener = self
            .listener
            .try_clone()
            .map_err(|err| Failure::new(format!("clone the listener: {err}")))?;
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let _ = sender.send(listener.accept());
        });
        let until = context.until();
        let accepted = loop {
            let left = until.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left.min(ABORT_CHECK)) {
                Ok(accepted) => break accepted,
                Err(_) if left.is_zero() => {
                    return Err(Failure::new(
                        "the client did not connect to the server in time",
                    ));
                }
                Err(_) => {
                    if let Some(reason) = abort() {
                        return Err(Failure::new(format!(
                            "the client did not connect: {reason}"
                        )));
                    }
                }
            }
        };
        let (stream, _) = accepted.map_err(|err| Failure::new(format!("accept: {err}")))?;
        context.step(format!("the client connects; {name} is the server's side"));
        Peer::over(context, name, stream, true)
    }
}
