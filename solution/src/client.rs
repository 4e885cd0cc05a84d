//! The chat client: one thread, one epoll instance watching two descriptors.
//!
//! - Standard input (fd 0): each line typed is sent to the server. The line
//!   `exit`, or the end of input (Ctrl-D), ends the session.
//! - The socket: every byte from the server is printed as it arrives. When the
//!   server closes the connection, the client says so and ends.
//!
//! Either may have something at any moment, so the client must never wait on
//! one of them alone: a `read` on standard input would stop it from printing
//! what others write, and a `read` on the socket would stop it from sending.
//! It waits in `epoll_wait` for whichever is ready first.
//!
//! Standard input is read with the raw `read` system call, never through
//! `std::io::stdin()`: that one keeps a buffer, and lines waiting in a
//! buffer are invisible to epoll. The client would not look at them until more
//! input arrived, perhaps never.

use std::io::{self, ErrorKind, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use libc::c_int;

use crate::cli::ClientArgs;
use crate::framing::strip_cr;
use crate::protocol::SERVER_CLOSED;
use crate::sys::{self, check, with_context};
use crate::w_epoll::{NO_EVENT, event_fd, w_epoll_add_fd_in};

/// The descriptor of standard input.
const STDIN: RawFd = 0;

/// The size of the buffers that reads go into.
const READ_BUF_SIZE: usize = 64 * 1024;

/// Runs the client until `exit`, the end of standard input, or the server
/// closing the connection. Returns an error if it cannot connect, or if
/// reading or writing fails.
pub fn run(args: &ClientArgs) -> io::Result<()> {
    let session = Session::connect(args)?;
    if io::stdin().is_terminal() {
        eprintln!(
            "connected to {}:{}: type a line to send it, `exit` or Ctrl-D to leave",
            args.host, args.port
        );
    }
    session.run()
}

/// What to do after handling an event.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Stop,
}

/// A connected client.
struct Session {
    /// The connection to the server (blocking: we only read from it when
    /// epoll says it is readable, and lines are short to write).
    socket: TcpStream,
    /// The epoll instance watching the socket and, when it can, standard input.
    epoll: OwnedFd,
    /// Whether standard input is in the epoll set. A regular file cannot be
    /// (it is always ready, so epoll refuses it with EPERM): then we read it
    /// on every turn of the loop instead.
    stdin_watched: bool,
    /// Input read but not sent yet: the start of a line whose end has not
    /// been typed.
    pending: Vec<u8>,
    /// Whether the last byte printed ended a line.
    at_line_start: bool,
    read_buf: Box<[u8]>,
}

impl Session {
    /// Connects to the server and sets up the epoll instance.
    fn connect(args: &ClientArgs) -> io::Result<Self> {
        // TODO 4: Connect to the server with
        //         `TcpStream::connect((args.host.as_str(), args.port))`; if
        //         that fails, return the error wrapped by `with_context`, so
        //         that it says where the client tried to connect (main prints
        //         it and exits with status 1). Then create the epoll instance
        //         (`sys::epoll_create`) and add the socket to it with
        //         `w_epoll_add_fd_in`, wrapped in `check` so a failure
        //         becomes an error.
        // BEGIN SOLUTION
        let socket = TcpStream::connect((args.host.as_str(), args.port))
            .map_err(|err| with_context(err, &format!("connect to {}:{}", args.host, args.port)))?;
        let epoll = sys::epoll_create()?;
        check(
            w_epoll_add_fd_in(epoll.as_raw_fd(), socket.as_raw_fd()),
            "watch the socket",
        )?;
        // END SOLUTION
        // STUB: let (socket, epoll): (TcpStream, OwnedFd) = todo!("TODO 4");

        // TODO 5: Add standard input (`STDIN`) too, with `w_epoll_add_fd_in`
        //         through `check`. If epoll refuses it with
        //         EPERM (ErrorKind::PermissionDenied), standard input is a
        //         regular file: that is fine, remember that it is not
        //         watched (`stdin_watched = false`). Any other error is an
        //         error.
        // BEGIN SOLUTION
        let stdin_watched = match check(
            w_epoll_add_fd_in(epoll.as_raw_fd(), STDIN),
            "watch standard input",
        ) {
            Ok(_) => true,
            Err(err) if err.kind() == ErrorKind::PermissionDenied => false,
            Err(err) => return Err(err),
        };
        // END SOLUTION
        // STUB: let stdin_watched: bool = todo!("TODO 5");
        Ok(Self {
            socket,
            epoll,
            stdin_watched,
            pending: Vec::new(),
            at_line_start: true,
            read_buf: vec![0; READ_BUF_SIZE].into_boxed_slice(),
        })
    }

    /// The event loop.
    fn run(mut self) -> io::Result<()> {
        let sockfd = self.socket.as_raw_fd();
        let mut events = [NO_EVENT; 2];
        loop {
            // An unwatched standard input is always ready: do not sleep.
            let timeout: c_int = if self.stdin_watched { -1 } else { 0 };
            // TODO 6: Wait with `libc::epoll_wait(epfd, events.as_mut_ptr(),
            //         events.len() as c_int, timeout)`, through `check`
            //         (which turns -1 into the error in errno), retrying
            //         when it is interrupted (ErrorKind::Interrupted). Keep
            //         the number of events it filled in `ready`.
            // BEGIN SOLUTION
            // SAFETY: `events` is a writable array of `events.len()` entries,
            // and epoll_wait writes at most that many.
            let ready = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as c_int,
                    timeout,
                )
            };
            let ready = match check(ready, "wait for events") {
                Ok(count) => count as usize,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            // END SOLUTION
            // STUB: let ready: usize = todo!("TODO 6");

            let mut stdin_ready = !self.stdin_watched;
            for event in &events[..ready] {
                // TODO 7: Dispatch on the event's descriptor (`event_fd`).
                //         The socket: `self.relay_from_server()?`; only when
                //         it says `Next::Stop` (the server closed), return
                //         `Ok(())`, otherwise go on with the next event.
                //         Standard input: set `stdin_ready`, handled below,
                //         after the socket, so that what the server said is
                //         printed first.
                // BEGIN SOLUTION
                match event_fd(event) {
                    fd if fd == sockfd => {
                        if self.relay_from_server()? == Next::Stop {
                            return Ok(());
                        }
                    }
                    STDIN => stdin_ready = true,
                    fd => unreachable!("epoll reported fd {fd}, which it does not watch"),
                }
                // END SOLUTION
            }
            if stdin_ready && self.send_input()? == Next::Stop {
                return Ok(());
            }
        }
    }

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

    /// Reads what standard input has and sends every complete line. Stops at
    /// the line `exit` or at the end of input.
    fn send_input(&mut self) -> io::Result<Next> {
        // TODO 8: Read standard input with `sys::read_fd(STDIN, ...)` into
        //         `self.read_buf`: the raw `read`, no buffer in between
        //         (an error: wrap it with `with_context`, as in TODO 4).
        //         0 bytes is the end of input: `self.finish_input()`.
        //         Otherwise append the bytes to `self.pending` and
        //         `self.send_complete_lines()`.
        // BEGIN SOLUTION
        let count = sys::read_fd(STDIN, &mut self.read_buf)
            .map_err(|err| with_context(err, "read standard input"))?;
        if count == 0 {
            return self.finish_input();
        }
        self.pending.extend_from_slice(&self.read_buf[..count]);
        self.send_complete_lines()
        // END SOLUTION
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
