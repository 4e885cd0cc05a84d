// LAB 2: the room (lab-docs/room.md)
//! `room-helper FD PIPE_IN PIPE_OUT`: the process that serves one client of
//! the room.
//!
//! `room` starts it with `fork` and `execv`, passing the numbers of three
//! descriptors it inherited: the client's socket (FD), the pipe the room
//! sends orders on (PIPE_IN) and the pipe it reports to the room on
//! (PIPE_OUT); the record format is in [`super::records`]. It maps the
//! room's ring of slots read-only, finding it by its parent's process id.
//!
//! It waits on two descriptors at once, the socket and PIPE_IN, with
//! `poll()`:
//!
//! - from the client: bytes, cut into lines exactly as lab 1's server does
//!   (`framing`), each sent to the room as a line record;
//! - from the room: slot numbers (copy the slot's message into the outbox,
//!   ack it), stop and go (stop or resume reading the client while the ring
//!   is full), idle (say so to the client, then end);
//! - to the client: the outbox, written as the socket takes it.
//!
//! It ends when either side closes: its client leaves (after sending the
//! rest of an unfinished line), or the room closes PIPE_IN. It also ends
//! when its client is more than 1 MiB behind, as lab 1's server drops such
//! a client.
//!
//! Why `poll` here: two descriptors, and what we wait for on the socket
//! changes every turn (room to write or not). `poll` takes the whole list
//! each call, as an array of `pollfd` we fill in, with no upper limit on
//! descriptor numbers and no kernel object to keep in step; epoll's
//! interest list pays off when there are many descriptors and few change
//! (the room), and `select` has a limit on descriptor numbers
//! (`FD_SETSIZE`) and sets that must be rebuilt after every call
//! (`select-client`).
//!
//! Writes to the room (PIPE_OUT) block: if the room is slow to read, the
//! helper waits, and meanwhile its client is not read, so TCP slows it
//! down. This cannot deadlock, because the room never waits for a helper:
//! its pipe ends are non-blocking and it reads every helper's pipe all the
//! time.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use libc::c_int;

use super::records::{Order, RecordBuffer, push_ack, push_line};
use super::shm::{SlotRing, ring_name};
use crate::cli::HelperArgs;
use crate::framing::LineBuffer;
use crate::protocol::{OUTBOX_LIMIT, idle_notice};
use crate::sys::{check, with_context};

/// The size of the buffer every read goes into.
const READ_BUF_SIZE: usize = 64 * 1024;

/// How long a helper told its client is idle tries to deliver what it
/// still has for it (the notice, at least) before it ends anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves the client until it leaves, the room closes PIPE_IN, or the room
/// says the client was idle.
pub fn run(args: &HelperArgs) -> io::Result<()> {
    let socket = TcpStream::from(take_fd(args.socket, "FD, the client's socket")?);
    let from_room = File::from(take_fd(args.pipe_in, "PIPE_IN")?);
    let to_room = File::from(take_fd(args.pipe_out, "PIPE_OUT")?);
    // The room named its ring after its process id, and the room is our
    // parent.
    // SAFETY: getppid takes no arguments and always succeeds.
    let room = unsafe { libc::getppid() };
    let ring = SlotRing::open(&ring_name(room as u32))?;
    socket.set_nonblocking(true)?;
    let helper = Helper {
        socket,
        from_room,
        to_room,
        ring,
        inbox: LineBuffer::new(),
        orders: RecordBuffer::new(),
        outbox: VecDeque::new(),
        reports: Vec::new(),
        reading: true,
        closing_at: None,
        read_buf: vec![0; READ_BUF_SIZE].into_boxed_slice(),
    };
    helper.serve()
}

/// Takes ownership of descriptor `fd`, inherited from the room, after
/// checking that it is open (a wrong number on the command line).
fn take_fd(fd: RawFd, what: &str) -> io::Result<OwnedFd> {
    check(
        // SAFETY: fcntl(F_GETFD) takes no pointers; on a closed descriptor
        // it fails with EBADF.
        unsafe { libc::fcntl(fd, libc::F_GETFD) },
        &format!("descriptor {fd} ({what})"),
    )?;
    // SAFETY: `fd` is open, and was passed to this program to own: nothing
    // else in this process uses it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What to do after handling a descriptor.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Stop,
}

struct Helper {
    /// The client (non-blocking).
    socket: TcpStream,
    /// PIPE_IN (blocking, read only when `poll` says it is readable).
    from_room: File,
    /// PIPE_OUT (blocking: see the module's documentation).
    to_room: File,
    /// The room's ring of messages, read-only.
    ring: SlotRing,
    /// The client's unfinished line.
    inbox: LineBuffer,
    /// The room's unfinished order.
    orders: RecordBuffer,
    /// Bytes for the client, oldest first.
    outbox: VecDeque<u8>,
    /// Records for the room, written at the end of each turn in one write.
    reports: Vec<u8>,
    /// Whether to read the client: not between a stop and a go.
    reading: bool,
    /// Set once the room said the client was idle: the time to give up
    /// delivering the outbox and end.
    closing_at: Option<Instant>,
    read_buf: Box<[u8]>,
}

impl Helper {
    /// The helper's loop.
    fn serve(mut self) -> io::Result<()> {
        let socket = self.socket.as_raw_fd();
        let room = self.from_room.as_raw_fd();
        loop {
            // Wait for ever, or until the end of the grace of a helper whose
            // client is idle.
            let timeout: c_int = match self.closing_at {
                None => -1,
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    // Rounded up, so as not to wake just before it.
                    c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(c_int::MAX)
                }
            };
            // TODO 22: Fill an array of two `libc::pollfd`, rebuilt every
            //          turn because what we wait for changes: the socket,
            //          with `events` POLLIN if `self.reading`, plus POLLOUT if
            //          `self.outbox` is not empty; and the room's pipe
            //          (`room`), with POLLIN. `revents` starts at 0 (the
            //          kernel fills it). Then `libc::poll(fds.as_mut_ptr(), 2,
            //          timeout)`, through `check`, again if it was
            //          interrupted (ErrorKind::Interrupted).
            // BEGIN SOLUTION
            let mut socket_events = 0;
            if self.reading {
                socket_events |= libc::POLLIN;
            }
            if !self.outbox.is_empty() {
                socket_events |= libc::POLLOUT;
            }
            let mut fds = [
                libc::pollfd {
                    fd: socket,
                    events: socket_events,
                    revents: 0,
                },
                libc::pollfd {
                    fd: room,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            match check(
                // SAFETY: `fds` is a writable array of 2 pollfd, as we say.
                unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) },
                "wait in poll",
            ) {
                Ok(_) => {}
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            // END SOLUTION
            // STUB: let fds: [libc::pollfd; 2] = todo!("TODO 22");

            // Hang-up and error come whatever we asked for: a read then
            // says what happened.
            let gone = libc::POLLHUP | libc::POLLERR;
            let mut next = Next::Continue;
            if fds[1].revents & (libc::POLLIN | gone) != 0 {
                next = self.read_room()?;
            }
            if next == Next::Continue && fds[0].revents & (libc::POLLIN | gone) != 0 {
                next = self.read_client();
            }
            if next == Next::Continue && !self.outbox.is_empty() {
                next = self.write_client();
            }
            if self.send_reports()? == Next::Stop {
                return Ok(());
            }
            if next == Next::Stop {
                return Ok(());
            }
            if self.outbox.len() > OUTBOX_LIMIT {
                eprintln!("room-helper: the client is more than 1 MiB behind: disconnecting it");
                return Ok(());
            }
            if let Some(at) = self.closing_at
                && (self.outbox.is_empty() || Instant::now() >= at)
            {
                // FIN after what was written, rather than a reset.
                let _ = self.socket.shutdown(Shutdown::Write);
                return Ok(());
            }
        }
    }

    /// Reads the room's orders and carries them out.
    fn read_room(&mut self) -> io::Result<Next> {
        let count = match self.from_room.read(&mut self.read_buf) {
            // The room closed its end: it is gone, or done with us.
            Ok(0) => return Ok(Next::Stop),
            Ok(count) => count,
            Err(err) if err.kind() == ErrorKind::Interrupted => return Ok(Next::Continue),
            Err(err) => return Err(with_context(err, "read the room's pipe")),
        };
        self.orders.extend(&self.read_buf[..count]);
        let Helper {
            orders,
            ring,
            outbox,
            reports,
            reading,
            closing_at,
            ..
        } = self;
        let mut copied: io::Result<()> = Ok(());
        // TODO 24: Carry out each whole order (`orders.take_orders`, which
        //          calls you back with each): `Order::Slot(slot)`: append
        //          the slot's message to `outbox` (`ring.copy_out(slot as
        //          usize, outbox)`; keep its error in `copied`) and ack it
        //          (`push_ack(reports, slot)`) at once, so the room can
        //          reuse the slot; `Order::Stop`: `*reading = false`;
        //          `Order::Go`: read again, unless closing
        //          (`closing_at.is_none()`); `Order::Idle(secs)`: append
        //          `idle_notice(secs).as_bytes()` and a `\n` to `outbox`
        //          (`extend`, `push_back`), stop reading, and set
        //          `*closing_at` to `Instant::now() + CLOSE_GRACE`.
        // BEGIN SOLUTION
        let parsed = orders.take_orders(|order| match order {
            Order::Slot(slot) => {
                if let Err(err) = ring.copy_out(slot as usize, outbox) {
                    copied = Err(err);
                }
                push_ack(reports, slot);
            }
            Order::Stop => *reading = false,
            Order::Go => *reading = closing_at.is_none(),
            Order::Idle(secs) => {
                outbox.extend(idle_notice(secs).as_bytes());
                outbox.push_back(b'\n');
                *reading = false;
                *closing_at = Some(Instant::now() + CLOSE_GRACE);
            }
        });
        // END SOLUTION
        // STUB: let parsed: Result<(), super::records::BadRecord> = todo!("TODO 24");
        parsed.map_err(|bad| io::Error::other(format!("from the room: {bad}")))?;
        copied?;
        Ok(Next::Continue)
    }

    /// Reads what the client sent, and reports each line it completes to
    /// the room. Stops when the client left.
    fn read_client(&mut self) -> Next {
        // TODO 23: Read once from `self.socket` into `self.read_buf`. 0
        //          bytes, or an error other than WouldBlock or Interrupted,
        //          means the client is gone: `return
        //          self.client_gone()`. Otherwise push the bytes into
        //          `self.inbox` (`push`), which calls you back with each
        //          line it completes: append each to `self.reports` as a
        //          line record (`push_line`).
        // BEGIN SOLUTION
        let count = match self.socket.read(&mut self.read_buf) {
            Ok(0) => return self.client_gone(),
            Ok(count) => count,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return Next::Continue;
            }
            Err(_) => return self.client_gone(),
        };
        let reports = &mut self.reports;
        self.inbox
            .push(&self.read_buf[..count], |line| push_line(reports, line));
        // END SOLUTION
        Next::Continue
    }

    /// The client left or its connection failed: the rest of its unfinished
    /// line goes to the room as a line of its own, as in lab 1.
    fn client_gone(&mut self) -> Next {
        let reports = &mut self.reports;
        self.inbox.finish(|line| push_line(reports, line));
        Next::Stop
    }

    /// Writes as much of the outbox as the socket takes, in one `writev`.
    fn write_client(&mut self) -> Next {
        let (front, back) = self.outbox.as_slices();
        match self
            .socket
            .write_vectored(&[IoSlice::new(front), IoSlice::new(back)])
        {
            Ok(written) => {
                self.outbox.drain(..written);
                Next::Continue
            }
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                Next::Continue
            }
            Err(_) => self.client_gone(),
        }
    }

    /// Writes the records gathered this turn to the room, blocking until
    /// the pipe takes them. Stops when the room is gone.
    fn send_reports(&mut self) -> io::Result<Next> {
        if self.reports.is_empty() {
            return Ok(Next::Continue);
        }
        match self.to_room.write_all(&self.reports) {
            Ok(()) => {
                self.reports.clear();
                Ok(Next::Continue)
            }
            Err(err) if err.kind() == ErrorKind::BrokenPipe => Ok(Next::Stop),
            Err(err) => Err(with_context(err, "write to the room's pipe")),
        }
    }
}
