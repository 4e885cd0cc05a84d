// LAB 2: the room (lab-docs/room.md)
//! `select-client [HOST [PORT]]`: lab 1's client, waiting with `select()`
//! instead of epoll. It behaves exactly like [`crate::client`] (protocol.md,
//! "Client"); only the waiting differs.
//!
//! `select` takes *sets* of descriptors (`fd_set`, a bit per descriptor
//! number) and overwrites them with the descriptors that are ready. So the
//! sets must be built again before every call: after one call they say
//! what *was* ready, not what we want to wait for. epoll instead keeps the
//! interest list in the kernel, and reports only the ready descriptors.
//!
//! An `fd_set` has a fixed size: bits for descriptors `0..FD_SETSIZE`
//! (1024 on Linux). `FD_SET` with a larger number writes past the end of
//! the set, corrupting memory. So before using a descriptor with `select`,
//! the client checks that its number is below `FD_SETSIZE`; a server
//! watching thousands of clients could not use `select` at all, which is
//! one reason epoll exists.
//!
//! Standard input needs no special case here: `select` reports a regular
//! file as always ready, where `epoll_ctl` refuses it.

use std::io::{self, ErrorKind, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};

use crate::cli::ClientArgs;
use crate::framing::strip_cr;
use crate::protocol::SERVER_CLOSED;
use crate::sys::{self, check, with_context};

/// The descriptor of standard input.
const STDIN: RawFd = 0;

/// The size of the buffers that reads go into.
const READ_BUF_SIZE: usize = 64 * 1024;

/// Runs the client until `exit`, the end of standard input, or the server
/// closing the connection.
pub fn run(args: &ClientArgs) -> io::Result<()> {
    let socket = TcpStream::connect((args.host.as_str(), args.port))
        .map_err(|err| with_context(err, &format!("connect to {}:{}", args.host, args.port)))?;
    let session = Session::new(socket)?;
    if io::stdin().is_terminal() {
        eprintln!(
            "connected to {}:{}: type a line to send it, `exit` or Ctrl-D to leave",
            args.host, args.port
        );
    }
    session.run()
}

/// What to do after handling a descriptor.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Stop,
}

/// A connected client.
struct Session {
    socket: TcpStream,
    /// Input read but not sent yet: the start of a line not ended yet.
    pending: Vec<u8>,
    /// Whether the last byte printed ended a line.
    at_line_start: bool,
    read_buf: Box<[u8]>,
}

impl Session {
    /// Checks that both descriptors fit in an `fd_set`.
    fn new(socket: TcpStream) -> io::Result<Self> {
        let fd = socket.as_raw_fd();
        // FD_SETSIZE is 1024: a usize constant that fits in an i32.
        if fd >= libc::FD_SETSIZE as RawFd {
            return Err(io::Error::other(format!(
                "the socket is descriptor {fd}, too large for select (FD_SETSIZE is {})",
                libc::FD_SETSIZE
            )));
        }
        Ok(Self {
            socket,
            pending: Vec::new(),
            at_line_start: true,
            read_buf: vec![0; READ_BUF_SIZE].into_boxed_slice(),
        })
    }

    /// The loop.
    fn run(mut self) -> io::Result<()> {
        let sockfd = self.socket.as_raw_fd();
        loop {
            // TODO 32: Build the set of descriptors to read from, again on
            //          every turn (`select` overwrote the last one): a
            //          zeroed `libc::fd_set` (`std::mem::zeroed`), emptied
            //          with `libc::FD_ZERO`, then `libc::FD_SET` of `STDIN`
            //          and of `sockfd`. Wait with `libc::select(nfds, &mut
            //          readable, null, null, null)` (`std::ptr::null_mut()`
            //          for the write and error sets and the timeout: wait
            //          for ever), through `check`, again if interrupted
            //          (ErrorKind::Interrupted). `nfds` is one more than the
            //          largest descriptor in the set (`sockfd.max(STDIN) +
            //          1`): select looks at descriptors 0 to nfds - 1.
            // BEGIN SOLUTION
            // SAFETY: an all-zero fd_set is a valid value (FD_ZERO below
            // makes it the empty set in any case).
            let mut readable: libc::fd_set = unsafe { std::mem::zeroed() };
            // SAFETY: `readable` is a valid fd_set that we own.
            unsafe { libc::FD_ZERO(&mut readable) };
            // SAFETY: STDIN is 0, below FD_SETSIZE.
            unsafe { libc::FD_SET(STDIN, &mut readable) };
            // SAFETY: `sockfd` is below FD_SETSIZE (checked in `new`).
            unsafe { libc::FD_SET(sockfd, &mut readable) };
            let nfds = sockfd.max(STDIN) + 1;
            // SAFETY: `readable` is a valid fd_set holding descriptors below
            // nfds; null sets and a null timeout are allowed.
            let ready = unsafe {
                libc::select(
                    nfds,
                    &mut readable,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            match check(ready, "wait in select") {
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            // END SOLUTION
            // STUB: let readable: libc::fd_set = todo!("TODO 32");

            // TODO 33: Handle what `select` left in the set, the socket
            //          first so that what the server said is printed before
            //          we send more: if `libc::FD_ISSET(sockfd, &readable)`,
            //          `self.relay_from_server()?`, and return `Ok(())` when
            //          it says `Next::Stop`; then if `libc::FD_ISSET(STDIN,
            //          &readable)`, `self.send_input()?`, and return
            //          `Ok(())` when it says `Next::Stop`.
            // BEGIN SOLUTION
            // SAFETY: `readable` is a valid fd_set; sockfd < FD_SETSIZE.
            if unsafe { libc::FD_ISSET(sockfd, &readable) }
                && self.relay_from_server()? == Next::Stop
            {
                return Ok(());
            }
            // SAFETY: `readable` is a valid fd_set; STDIN < FD_SETSIZE.
            if unsafe { libc::FD_ISSET(STDIN, &readable) } && self.send_input()? == Next::Stop {
                return Ok(());
            }
            // END SOLUTION
        }
    }

    // What follows is lab 1's client, unchanged: printing what the server
    // sends, and sending what standard input gives.

    /// Prints what the server sent. Stops when the server closed the
    /// connection.
    fn relay_from_server(&mut self) -> io::Result<Next> {
        let count = match self.socket.read(&mut self.read_buf) {
            Ok(0) => return self.server_closed(),
            Ok(count) => count,
            Err(err) if err.kind() == ErrorKind::Interrupted => return Ok(Next::Continue),
            Err(err) if err.kind() == ErrorKind::ConnectionReset => return self.server_closed(),
            Err(err) => return Err(with_context(err, "read from the server")),
        };
        let bytes = &self.read_buf[..count];
        let mut stdout = io::stdout().lock();
        stdout.write_all(bytes)?;
        stdout.flush()?;
        self.at_line_start = bytes.ends_with(b"\n");
        Ok(Next::Continue)
    }

    /// Says, on a line of its own, that the server closed the connection.
    fn server_closed(&mut self) -> io::Result<Next> {
        let mut stdout = io::stdout().lock();
        if !self.at_line_start {
            stdout.write_all(b"\n")?;
        }
        writeln!(stdout, "{SERVER_CLOSED}")?;
        stdout.flush()?;
        Ok(Next::Stop)
    }

    /// Reads what standard input has (the raw `read`: a buffer in between
    /// would hide lines from `select`) and sends every complete line. Stops
    /// at the line `exit` or at the end of input.
    fn send_input(&mut self) -> io::Result<Next> {
        let count = sys::read_fd(STDIN, &mut self.read_buf)
            .map_err(|err| with_context(err, "read standard input"))?;
        if count == 0 {
            return self.finish_input();
        }
        self.pending.extend_from_slice(&self.read_buf[..count]);
        self.send_complete_lines()
    }

    /// Sends the complete lines in `pending`, all in one write, up to the
    /// line `exit` if there is one; keeps an unfinished line for later.
    fn send_complete_lines(&mut self) -> io::Result<Next> {
        let mut sent_up_to = 0;
        let mut next = Next::Continue;
        while let Some(len) = self.pending[sent_up_to..].iter().position(|&b| b == b'\n') {
            let line = &self.pending[sent_up_to..sent_up_to + len];
            if strip_cr(line) == b"exit" {
                next = Next::Stop;
                break;
            }
            sent_up_to += len + 1;
        }
        self.socket
            .write_all(&self.pending[..sent_up_to])
            .map_err(|err| with_context(err, "send to the server"))?;
        self.pending.drain(..sent_up_to);
        Ok(next)
    }

    /// At the end of input, sends the unfinished line, if any, with its `\n`.
    fn finish_input(&mut self) -> io::Result<Next> {
        if !self.pending.is_empty() {
            self.pending.push(b'\n');
            self.send_complete_lines()?;
        }
        Ok(Next::Stop)
    }
}
