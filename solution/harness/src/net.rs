//! Socket plumbing the standard library does not offer: connecting from a
//! chosen loopback address with a small receive buffer and a deadline,
//! holding a port on which nothing listens, and resetting a connection.

use std::io::{self, ErrorKind};
use std::mem;
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

/// How a peer's socket is set up before it connects.
#[derive(Debug, Clone, Copy)]
pub struct SocketOptions {
    /// The loopback address to connect from (127.0.0.1, 127.0.0.2, ...): a
    /// server names peers by address and port.
    pub from: Ipv4Addr,
    /// A small receive buffer makes a peer that does not read fill up fast.
    pub receive_buffer: Option<usize>,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            from: Ipv4Addr::LOCALHOST,
            receive_buffer: None,
        }
    }
}

/// `[IP:PORT]` of the local end of `stream`: how a chat server names the
/// connection.
pub fn tag_of(stream: &TcpStream) -> io::Result<String> {
    Ok(format!("[{}]", stream.local_addr()?))
}

/// Makes the next `close` of `stream`'s last descriptor send a reset (RST)
/// instead of FIN: SO_LINGER on, with a zero timeout.
pub fn reset_on_close(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    set_option(stream.as_raw_fd(), libc::SO_LINGER, &linger);
}

/// A port on which nothing listens, for as long as it lives: a socket is
/// bound to it but does not listen. Connecting to it is refused, and no one
/// else can take the port meanwhile (a port merely found free could be
/// handed at once to another test's server, or to the connection itself).
#[derive(Debug)]
pub struct ClosedPort {
    _socket: OwnedFd,
    pub port: u16,
}

/// Binds a socket to a free loopback port without listening: see
/// [`ClosedPort`].
pub fn closed_port() -> io::Result<ClosedPort> {
    // SAFETY: socket takes no pointers.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new socket that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let any_port = sockaddr(Ipv4Addr::LOCALHOST, 0);
    // SAFETY: `any_port` is a valid sockaddr_in of the size passed.
    if unsafe { libc::bind(fd, (&raw const any_port).cast(), SOCKADDR_IN_LEN) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut bound: libc::sockaddr_in = sockaddr(Ipv4Addr::LOCALHOST, 0);
    let mut len = SOCKADDR_IN_LEN;
    // SAFETY: `bound` and `len` are writable and describe a sockaddr_in.
    if unsafe { libc::getsockname(fd, (&raw mut bound).cast(), &mut len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ClosedPort {
        _socket: socket,
        port: u16::from_be(bound.sin_port),
    })
}

/// Creates a TCP socket, applies `options`, binds it to `options.from` and
/// connects it to 127.0.0.1:`port`, giving up at `until`. Done with libc,
/// because std can neither bind before connecting nor connect with a
/// deadline from a chosen address.
pub fn connect(port: u16, options: SocketOptions, until: Instant) -> io::Result<TcpStream> {
    // SAFETY: socket takes no pointers.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new socket that nothing else owns; the TcpStream now
    // closes it on every path.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    if let Some(size) = options.receive_buffer {
        set_option(fd, libc::SO_RCVBUF, &(size as libc::c_int));
    }
    let local = sockaddr(options.from, 0);
    // SAFETY: `local` is a valid sockaddr_in of the size passed.
    if unsafe { libc::bind(fd, (&raw const local).cast(), SOCKADDR_IN_LEN) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let remote = sockaddr(Ipv4Addr::LOCALHOST, port);
    // SAFETY: `remote` is a valid sockaddr_in of the size passed.
    if unsafe { libc::connect(fd, (&raw const remote).cast(), SOCKADDR_IN_LEN) } != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(err);
        }
        let left = until.saturating_duration_since(Instant::now());
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        let millis = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: `poll` is one valid pollfd.
        if unsafe { libc::poll(&mut poll, 1, millis) } == 0 {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                "the connection was not accepted in time",
            ));
        }
        if let Some(err) = stream.take_error()? {
            return Err(err);
        }
    }
    stream.set_nonblocking(false)?;
    Ok(stream)
}

const SOCKADDR_IN_LEN: libc::socklen_t = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

fn sockaddr(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// Sets a SOL_SOCKET option; failures only make a check less strict, so they
/// are ignored.
fn set_option<T>(fd: RawFd, option: libc::c_int, value: &T) {
    // SAFETY: `value` points to a valid T of the size passed, read during
    // the call only.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
}
