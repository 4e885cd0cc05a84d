//! The few helpers that sit between the C system calls and Rust code.
//!
//! C reports a failed system call by returning `-1` and leaving the reason in
//! `errno`; the C versions of this lab wrap that in a `DIE` macro. Here the same
//! job is done by [`check`], which turns `-1` into an [`io::Error`] that says
//! which call failed and why, so callers can use `?`:
//!
//! ```no_run
//! # use chat::{sys::check, w_epoll::w_epoll_add_fd_in};
//! # fn demo(epfd: i32, fd: i32) -> std::io::Result<()> {
//! check(w_epoll_add_fd_in(epfd, fd), "add the listening socket to epoll")?;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use libc::c_int;

/// Turns a C-style return value into a `Result`: `-1` becomes the current
/// `errno` as an [`io::Error`], prefixed with `what` (what we were trying to
/// do), and anything else is returned as it is.
///
/// Call it right after the system call, before anything else can change
/// `errno`.
pub fn check(ret: c_int, what: &str) -> io::Result<c_int> {
    if ret == -1 {
        Err(with_context(io::Error::last_os_error(), what))
    } else {
        Ok(ret)
    }
}

/// Prefixes an error with what we were doing, keeping its kind, so that
/// `?`-chains end in a message like `read from standard input: Bad file
/// descriptor (os error 9)`.
pub fn with_context(err: io::Error, what: &str) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// Creates an epoll instance (`epoll_create1`) and hands back its descriptor
/// as an [`OwnedFd`], which closes it exactly once, when it is dropped.
pub fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 takes no pointers; any flag value is safe to pass.
    let epfd = check(
        unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) },
        "create the epoll instance",
    )?;
    // SAFETY: `epfd` was just returned by epoll_create1, so it is an open
    // descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(epfd) })
}

/// Reads from a raw descriptor with the `read` system call: no buffering in
/// between, so whatever epoll says is ready is exactly what this returns.
/// Retries when a signal interrupts the call.
pub fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes for
        // the duration of the call.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            // A non-negative ssize_t always fits in usize.
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Turns SIGINT and SIGTERM into a descriptor that becomes readable when one
/// of them arrives (`signalfd`), so that the server's event loop sees a
/// request to stop like any other event, in its one `epoll_wait`.
///
/// The two signals are blocked for the calling thread first: otherwise their
/// default action would end the process at once, with no chance to close the
/// sockets and exit with status 0.
pub fn shutdown_signals() -> io::Result<OwnedFd> {
    // SAFETY: an all-zero sigset_t is a valid value, and sigemptyset
    // initialises it properly right after.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t we own; sigemptyset and sigaddset only
    // write to it.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
    }
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if ret != 0 {
        // pthread_sigmask returns the error number instead of setting errno.
        return Err(with_context(
            io::Error::from_raw_os_error(ret),
            "block SIGINT and SIGTERM",
        ));
    }
    // SAFETY: -1 asks for a new descriptor; `set` is a valid, initialised set.
    let fd = check(
        unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) },
        "create a signalfd for SIGINT and SIGTERM",
    )?;
    // SAFETY: `fd` was just returned by signalfd, so it is open and ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
