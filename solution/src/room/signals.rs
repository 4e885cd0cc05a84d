// LAB 2: the room (lab-docs/room.md)
//! Signals, turned into events of the room's epoll loop: the self-pipe
//! trick.
//!
//! A signal interrupts the process wherever it is: in the middle of
//! `malloc`, of a `println!`, of an update of the room's tables. So its
//! handler may only do what is safe at any such point (the
//! *async-signal-safe* functions of `signal-safety(7)`, plus lock-free
//! atomics): no allocation, no lock, no `println!`, no touching the room.
//! What the room must do about the signal (reap children, shut down) has to
//! happen later, in the loop, where everything is in a consistent state.
//!
//! The trick: before the loop starts, make a pipe and watch its read end in
//! the epoll set like any other descriptor. The handler records which
//! signal came (an atomic bit in [`PENDING`]) and writes one byte into the
//! pipe. That write wakes `epoll_wait`, the loop sees the pipe readable,
//! drains it, and takes the pending bits ([`SelfPipe::take`]).
//!
//! Both ends are non-blocking. The handler's write must never block: if the
//! pipe were full (64 KiB of bytes the loop has not drained yet), the loop
//! is due to wake anyway, and the bit is recorded; the byte is only a
//! wake-up call. The loop's reads stop at "would block" once it is empty.
//!
//! (Lab 1's server used `signalfd`, which does all this in the kernel, but
//! only for signals blocked in every thread, and is Linux-only; the
//! self-pipe works wherever there are pipes and handlers.)

use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use libc::c_int;

use crate::sys::{check, with_context};

/// The write end of the self-pipe, for the handler (which can reach only
/// statics). -1 until [`install`].
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// The signals that came since the loop last looked: bit `n` for signal `n`.
static PENDING: AtomicU32 = AtomicU32::new(0);

/// The handler of every signal the room catches. Runs at any point of the
/// program: touches only atomics and calls only `write`, which are
/// async-signal-safe, and leaves `errno` as it found it, since the code it
/// interrupted may be about to read it.
extern "C" fn on_signal(signal: c_int) {
    // TODO 18: Write the handler. Save `errno` first
    //          (`*libc::__errno_location()`, an unsafe read), set the
    //          signal's bit in `PENDING` (`PENDING.fetch_or(1 << signal,
    //          Ordering::SeqCst)`), then write one byte (the signal's
    //          number, `signal as u8`) to the descriptor in `WAKE_FD`
    //          (`WAKE_FD.load`) with `libc::write`, the byte's address
    //          given as `(&raw const byte).cast()`, ignoring its result:
    //          if the pipe is full, the loop is due to wake anyway. Last,
    //          restore `errno`.
    // BEGIN SOLUTION
    // SAFETY: __errno_location returns this thread's errno, always valid.
    let saved_errno = unsafe { *libc::__errno_location() };
    PENDING.fetch_or(1 << signal, Ordering::SeqCst);
    let byte = signal as u8;
    // SAFETY: write is async-signal-safe; `byte` is one readable byte. A
    // bad descriptor (-1, before install) makes it fail harmlessly.
    unsafe { libc::write(WAKE_FD.load(Ordering::SeqCst), (&raw const byte).cast(), 1) };
    // SAFETY: as above; we put back the value the interrupted code saw.
    unsafe { *libc::__errno_location() = saved_errno };
    // END SOLUTION
}

/// The read end of the self-pipe, and the write end that the handler uses
/// (kept open as long as this lives).
#[derive(Debug)]
pub struct SelfPipe {
    read: File,
    _write: OwnedFd,
}

/// A set of signals that came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals(u32);

impl Signals {
    /// Whether `signal` is in the set.
    pub fn contains(self, signal: c_int) -> bool {
        self.0 & (1 << signal) != 0
    }
}

impl SelfPipe {
    /// The descriptor to watch: readable when a signal came.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Drains the pipe and returns the signals that came since the last
    /// call.
    pub fn take(&mut self) -> io::Result<Signals> {
        let mut bytes = [0; 64];
        loop {
            match self.read.read(&mut bytes) {
                Ok(0) => return Err(io::Error::other("the self-pipe closed")),
                Ok(_) => continue,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(with_context(err, "drain the self-pipe")),
            }
        }
        // Drained first, then taken: a signal that comes in between leaves
        // a byte, and a bit that this take or the next one sees.
        Ok(Signals(PENDING.swap(0, Ordering::SeqCst)))
    }
}

/// Makes the self-pipe and installs [`on_signal`] for `signals`. Call once,
/// before any child exists.
pub fn install(signals: &[c_int]) -> io::Result<SelfPipe> {
    let (read, write) = pipe(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .map_err(|err| with_context(err, "make the self-pipe"))?;
    WAKE_FD.store(write.as_raw_fd(), Ordering::SeqCst);
    for &signal in signals {
        // TODO 19: Install `on_signal` as the handler of `signal` with
        //          `libc::sigaction`, through `check`. Start from a zeroed
        //          `libc::sigaction` (`std::mem::zeroed`), set its
        //          `sa_sigaction` to the handler's address (`on_signal as
        //          extern "C" fn(c_int) as libc::sighandler_t`), its
        //          `sa_flags` to `SA_RESTART` (so that a signal does not
        //          make `read` or `write` fail with EINTR: only
        //          `epoll_wait` still does, which the loop retries) and
        //          empty its `sa_mask` with `libc::sigemptyset`. No need for
        //          the old action: pass `std::ptr::null_mut()`.
        // BEGIN SOLUTION
        // SAFETY: an all-zero sigaction is a valid value: no handler, no
        // flags, an empty mask.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action.sa_mask` is a valid sigset_t that we own.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        check(
            // SAFETY: `action` is initialised; a null old-action is allowed.
            unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) },
            &format!("install the handler of signal {signal}"),
        )?;
        // END SOLUTION
    }
    Ok(SelfPipe {
        read: File::from(read),
        _write: write,
    })
}

/// Ignores SIGPIPE, so that writing to a pipe or socket whose reader is
/// gone fails with EPIPE instead of killing the process. (Rust programs
/// start with it ignored already; saying so here makes it part of the
/// room's design, and an ignored signal stays ignored across `exec`, so
/// helpers get it too.)
pub fn ignore_sigpipe() -> io::Result<()> {
    // SAFETY: SIG_IGN is a valid disposition for SIGPIPE.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    if previous == libc::SIG_ERR {
        return Err(with_context(io::Error::last_os_error(), "ignore SIGPIPE"));
    }
    Ok(())
}

/// A pipe with `flags` (`O_CLOEXEC`, `O_NONBLOCK`) on both ends: (read end,
/// write end). The error is errno as it is, without context, so that the
/// caller can tell "out of descriptors" (EMFILE, ENFILE) from the rest.
pub fn pipe(flags: c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so fds[0] is an open descriptor owned by
    // nobody else.
    let read = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // SAFETY: likewise fds[1].
    let write = unsafe { OwnedFd::from_raw_fd(fds[1]) };
    Ok((read, write))
}
