//! [`Peer`]: a raw TCP connection playing one side of the chat, as the
//! grader's peers do: it sends bytes exactly as given and checks what it
//! receives, line by line.

use std::io::Write;
use std::mem;
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::time::Instant;

use crate::failure::{self, Woken, suspect};
use crate::inbox::{DEADLINE, Inbox};

pub struct Peer {
    stream: TcpStream,
    /// What arrived; `None` for a peer that does not read (yet).
    inbox: Option<Inbox>,
    /// Set by `reset`: the connection must end with RST, not FIN.
    abort: bool,
    /// `[IP:PORT]`: how the server names this peer, from `getsockname`.
    pub tag: String,
}

/// How a peer's socket is set up before it connects.
#[derive(Clone, Copy)]
pub struct Options {
    /// The loopback address to connect from (127.0.0.1, 127.0.0.2, ...).
    pub from: Ipv4Addr,
    /// A small receive buffer, to make a peer that does not read fill up
    /// quickly.
    pub receive_buffer: Option<usize>,
    /// Whether the peer reads what arrives. One that does not read lets the
    /// kernel's buffers towards it fill up, until it `start_reading`.
    pub reads: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            from: Ipv4Addr::LOCALHOST,
            receive_buffer: None,
            reads: true,
        }
    }
}

impl Peer {
    /// Connects to 127.0.0.1:`port` from 127.0.0.1.
    #[track_caller]
    pub fn connect(port: u16) -> Peer {
        Peer::connect_with(port, Options::default())
    }

    /// Connects to 127.0.0.1:`port` with the given socket options.
    #[track_caller]
    pub fn connect_with(port: u16, options: Options) -> Peer {
        let stream = connect_socket(port, options);
        let mut peer = Peer {
            tag: tag_of(&stream),
            stream,
            inbox: None,
            abort: false,
        };
        if options.reads {
            peer.start_reading();
        }
        peer
    }

    /// Wraps an accepted or connected stream, and reads it.
    pub fn from_stream(stream: TcpStream) -> Peer {
        let mut peer = Peer {
            tag: tag_of(&stream),
            stream,
            inbox: None,
            abort: false,
        };
        peer.start_reading();
        peer
    }

    /// Starts collecting what arrives (for a peer that did not read so far).
    pub fn start_reading(&mut self) {
        let reader = self.stream.try_clone().expect("clone the socket");
        self.inbox = Some(Inbox::spawn(format!("peer {}", self.tag), reader));
    }

    /// Sends `bytes` as they are.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream
            .write_all(bytes.as_ref())
            .expect("send to the server");
    }

    /// Waits for the next line and checks it is exactly `line`.
    #[track_caller]
    pub fn expect_line(&self, line: impl AsRef<[u8]>) {
        self.inbox().expect_line(line);
    }

    /// Waits for the next line and checks it is `other`'s message `text`.
    #[track_caller]
    pub fn expect_from(&self, other: &Peer, text: &str) {
        self.expect_line(format!("{} {text}", other.tag));
    }

    /// Waits for the next line and checks it says `other` connected.
    #[track_caller]
    pub fn expect_join(&self, other: &Peer) {
        // Whatever the test is about, a join needs these first.
        let _todo = suspect(
            "TODOs 11-12 (accept, admit: the join notice) and 14-15 (queue it for the others, write it)",
        );
        self.expect_from(other, "(connected)");
    }

    /// What arrived.
    #[track_caller]
    pub fn inbox(&self) -> &Inbox {
        self.inbox
            .as_ref()
            .expect("a peer that reads (see Options::reads)")
    }

    /// Closes the connection in the orderly way (FIN).
    pub fn close(self) {
        drop(self);
    }

    /// Closes the connection abruptly: SO_LINGER with a zero timeout makes
    /// `close` send a reset (RST) instead of FIN.
    pub fn reset(mut self) {
        self.abort = true;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        set_option(self.stream.as_raw_fd(), libc::SO_LINGER, &linger);
        drop(self);
    }
}

impl Drop for Peer {
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

/// `[IP:PORT]` of the local end: how the server names this connection.
fn tag_of(stream: &TcpStream) -> String {
    format!("[{}]", stream.local_addr().expect("getsockname"))
}

/// A listening socket standing in for the server, to test a client.
pub struct FakeServer {
    listener: TcpListener,
}

impl FakeServer {
    pub fn start() -> FakeServer {
        FakeServer {
            listener: TcpListener::bind("127.0.0.1:0").expect("bind a fake server"),
        }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().expect("local address").port()
    }

    /// Waits (with the deadline) for the client to connect. Gives up at
    /// once if the client exits first: it will not connect any more.
    #[track_caller]
    pub fn accept(&self) -> Peer {
        let deadline = Instant::now() + DEADLINE;
        match failure::wait_readable(self.listener.as_raw_fd(), deadline) {
            Woken::Ready => {}
            Woken::Exited(what) => failure::fail_after(
                format!(
                    "the fake server on port {} waited for the client to connect, but {what} exited first.",
                    self.port()
                ),
                true,
            ),
            Woken::TimedOut => failure::fail(format!(
                "the fake server on port {} waited {DEADLINE:?} for the client to connect, in vain.",
                self.port()
            )),
        }
        // A connection is waiting: accept returns at once.
        let (stream, _) = self.listener.accept().expect("accept");
        Peer::from_stream(stream)
    }
}

/// A port that was free a moment ago (for a server to listen on; another
/// test may take it first, so retry on "in use").
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local address").port()
}

/// A port on which nothing listens, for as long as it lives: a socket is
/// bound to it but does not listen. Connecting to it is refused, and no one
/// else can take the port meanwhile (a port merely found free could be
/// handed at once to another test's server).
pub struct ClosedPort {
    _socket: std::os::fd::OwnedFd,
    pub port: u16,
}

pub fn closed_port() -> ClosedPort {
    // SAFETY: socket takes no pointers.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a new socket that nothing else owns.
    let socket = unsafe { <std::os::fd::OwnedFd as FromRawFd>::from_raw_fd(fd) };
    let any_port = sockaddr(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
    let len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `any_port` is a valid sockaddr_in of the size passed.
    let ret = unsafe { libc::bind(fd, (&raw const any_port).cast(), len) };
    assert_eq!(ret, 0, "bind: {}", std::io::Error::last_os_error());
    let mut bound = sockaddr(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
    let mut bound_len = len;
    // SAFETY: `bound` and `bound_len` are writable and describe a sockaddr_in.
    let ret = unsafe { libc::getsockname(fd, (&raw mut bound).cast(), &mut bound_len) };
    assert_eq!(ret, 0, "getsockname: {}", std::io::Error::last_os_error());
    ClosedPort {
        _socket: socket,
        port: u16::from_be(bound.sin_port),
    }
}

/// Creates a TCP socket, applies `options`, and connects it to 127.0.0.1.
/// Done with libc because std cannot bind a socket before connecting it.
#[track_caller]
fn connect_socket(port: u16, options: Options) -> TcpStream {
    // SAFETY: socket takes no pointers.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a new socket that nothing else owns.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    if let Some(size) = options.receive_buffer {
        set_option(fd, libc::SO_RCVBUF, &(size as libc::c_int));
    }
    let local = sockaddr(SocketAddrV4::new(options.from, 0));
    // SAFETY: `local` is a valid sockaddr_in of the size passed.
    let ret = unsafe {
        libc::bind(
            fd,
            (&raw const local).cast(),
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(
        ret,
        0,
        "bind to {}: {}",
        options.from,
        std::io::Error::last_os_error()
    );
    let remote = sockaddr(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    // SAFETY: `remote` is a valid sockaddr_in of the size passed.
    let ret = unsafe {
        libc::connect(
            fd,
            (&raw const remote).cast(),
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if ret != 0 {
        // Refused: nothing listens, most often because the server exited.
        let err = std::io::Error::last_os_error();
        failure::fail_after(format!("connecting to port {port}: {err}"), true);
    }
    stream
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn set_option<T>(fd: RawFd, option: libc::c_int, value: &T) {
    // SAFETY: `value` points to a valid T of the size passed, read during
    // the call only.
    let ret = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    assert_eq!(ret, 0, "setsockopt: {}", std::io::Error::last_os_error());
}
