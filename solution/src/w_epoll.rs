//! `w_epoll`: small wrappers around `epoll_ctl`, so that the client and the
//! server say *what* they want ("watch this socket for reading") instead of
//! how to ask the kernel for it.
//!
//! An epoll instance keeps an *interest list*: the descriptors it watches and,
//! for each, the events that matter (`EPOLLIN`: there is something to read;
//! `EPOLLOUT`: there is room to write). `epoll_ctl` edits that list;
//! `epoll_wait` sleeps until some descriptors on it are ready and says which.
//!
//! Each wrapper returns exactly what `epoll_ctl` returned: `0` on success, `-1`
//! on failure with the reason in `errno`. Callers must handle the error, for
//! example with [`crate::sys::check`]:
//!
//! ```no_run
//! # use chat::{sys::check, w_epoll::w_epoll_add_fd_in};
//! # fn demo(epfd: i32, sockfd: i32) -> std::io::Result<()> {
//! check(w_epoll_add_fd_in(epfd, sockfd), "watch the socket")?;
//! # Ok(())
//! # }
//! ```
//!
//! The `data` of every event we register is the descriptor itself, so when
//! `epoll_wait` reports an event, [`event_fd`] tells which descriptor it is
//! about.

use std::os::fd::RawFd;

use libc::{c_int, epoll_event};

/// An event with nothing in it, to fill the array that `epoll_wait` writes to.
pub const NO_EVENT: epoll_event = epoll_event { events: 0, u64: 0 };

/// Adds `fd` to the interest list of `epfd`, to be reported when it is
/// readable (`EPOLLIN`).
///
/// Returns what `epoll_ctl` returned: `0`, or `-1` with `errno` set (for
/// example `EEXIST` if `fd` is already in the list).
pub fn w_epoll_add_fd_in(epfd: RawFd, fd: RawFd) -> c_int {
    // TODO 1: Add `fd` to the interest list of `epfd`, watching it for input.
    //         Build a `libc::epoll_event` whose `events` is `EPOLLIN` and
    //         whose `u64` (the event's data) is the descriptor itself, then
    //         call `libc::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &mut event)`.
    //         Return its result unchanged: callers check for -1.
    // BEGIN SOLUTION
    let mut event = epoll_event {
        events: libc::EPOLLIN as u32,
        u64: fd as u64,
    };
    // SAFETY: `event` is a valid epoll_event that lives across the call; the
    // kernel copies it and keeps no pointer to it.
    unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut event) }
    // END SOLUTION
}

/// Removes `fd` from the interest list of `epfd`.
///
/// Do this *before* closing `fd`. Returns what `epoll_ctl` returned: `0`, or
/// `-1` with `errno` set (`ENOENT` if `fd` was not in the list).
pub fn w_epoll_del_fd(epfd: RawFd, fd: RawFd) -> c_int {
    // TODO 2: Remove `fd` from the interest list of `epfd` with
    //         `EPOLL_CTL_DEL`. The kernel ignores the event argument of a
    //         delete, so pass a null pointer (`std::ptr::null_mut()`).
    //         Return the result of `epoll_ctl` unchanged.
    // BEGIN SOLUTION
    // SAFETY: EPOLL_CTL_DEL does not read the event pointer, so null is
    // allowed (since Linux 2.6.9).
    unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) }
    // END SOLUTION
}

/// Changes the interest of `fd`, already in the list of `epfd`, to reading
/// *and* writing: the server asks for this while it has bytes queued for a
/// client that the socket could not take yet.
pub fn w_epoll_update_fd_inout(epfd: RawFd, fd: RawFd) -> c_int {
    w_epoll_update_fd(epfd, fd, libc::EPOLLIN | libc::EPOLLOUT)
}

/// Changes the interest of `fd`, already in the list of `epfd`, back to
/// reading only: once a client's queue is empty, `EPOLLOUT` would wake the
/// server for nothing, over and over, since a socket is nearly always
/// writable.
pub fn w_epoll_update_fd_in(epfd: RawFd, fd: RawFd) -> c_int {
    w_epoll_update_fd(epfd, fd, libc::EPOLLIN)
}

/// Replaces the events watched for `fd`, already in the list of `epfd`, with
/// `events` (any mix of `EPOLLIN` and `EPOLLOUT`, or none). Returns what
/// `epoll_ctl` returned (`-1` with `ENOENT` if `fd` is not in the list).
pub fn w_epoll_update_fd(epfd: RawFd, fd: RawFd, events: c_int) -> c_int {
    // TODO 3: Change what is watched for `fd` to `events`, with
    //         `EPOLL_CTL_MOD`. The event you pass is built like the one in
    //         TODO 1, with `events` instead of `EPOLLIN`.
    // BEGIN SOLUTION
    let mut event = epoll_event {
        events: events as u32,
        u64: fd as u64,
    };
    // SAFETY: as in `w_epoll_add_fd_in`: a valid event, copied by the kernel.
    unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, &mut event) }
    // END SOLUTION
}

/// The descriptor an event is about: the data we registered it with.
///
/// `epoll_event` is a packed struct on x86_64, so its fields may be copied
/// out (as here) but never borrowed: `&event.u64` would not compile.
pub fn event_fd(event: &epoll_event) -> RawFd {
    event.u64 as RawFd
}

/// Whether a read on the event's descriptor will not block: there is data, or
/// the peer hung up or the descriptor failed, which the read then reports (as
/// 0 bytes, or as an error).
pub fn is_readable(event: &epoll_event) -> bool {
    event.events & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0
}

/// Whether the event's descriptor has room to write.
pub fn is_writable(event: &epoll_event) -> bool {
    event.events & libc::EPOLLOUT as u32 != 0
}
