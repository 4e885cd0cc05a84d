//! The contract of the `w_epoll` wrappers (TODOs 1 to 3).
//!
//! Run them with `cargo test --test w_epoll`. Each test builds a tiny
//! situation (an epoll instance and a connected pair of sockets), calls a
//! wrapper, and checks two things: what the wrapper returned (`0`, or `-1`
//! with the right `errno`), and what `epoll_wait` reports afterwards.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use chat::sys::epoll_create;
use chat::w_epoll::{
    NO_EVENT, w_epoll_add_fd_in, w_epoll_del_fd, w_epoll_update_fd_in, w_epoll_update_fd_inout,
};

/// Long enough that a ready descriptor is always reported in time; a wait
/// that expects an event returns as soon as it comes.
const WAIT_FOR_EVENT_MS: i32 = 5_000;

/// An epoll instance and a connected pair of sockets: whatever is written to
/// `peer` becomes readable on `watched`.
struct Setup {
    epoll: OwnedFd,
    watched: UnixStream,
    peer: UnixStream,
}

impl Setup {
    fn new() -> Setup {
        let (watched, peer) = UnixStream::pair().expect("create a socket pair");
        Setup {
            epoll: epoll_create().expect("create an epoll instance"),
            watched,
            peer,
        }
    }

    fn epfd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }

    fn fd(&self) -> RawFd {
        self.watched.as_raw_fd()
    }

    /// Makes `watched` readable.
    fn send_something(&mut self) {
        self.peer.write_all(b"ping\n").expect("write to the peer");
    }

    /// What `epoll_wait` reports, as (descriptor, events) pairs. With a
    /// timeout of 0 it only looks and returns at once.
    fn wait(&self, timeout_ms: i32) -> Vec<(RawFd, u32)> {
        let mut events = [NO_EVENT; 8];
        // SAFETY: `events` is a writable array of 8 entries.
        let count = unsafe { libc::epoll_wait(self.epfd(), events.as_mut_ptr(), 8, timeout_ms) };
        assert!(
            count >= 0,
            "epoll_wait failed: {}",
            io::Error::last_os_error()
        );
        events[..count as usize]
            .iter()
            .map(|event| (event.u64 as RawFd, event.events))
            .collect()
    }
}

/// The `errno` left by the last failed call.
fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;

#[test]
fn add_returns_0_and_the_fd_is_reported_when_readable() {
    let mut setup = Setup::new();
    assert_eq!(w_epoll_add_fd_in(setup.epfd(), setup.fd()), 0);
    assert_eq!(
        setup.wait(0),
        [],
        "nothing to read yet, so nothing is ready"
    );

    setup.send_something();
    let events = setup.wait(WAIT_FOR_EVENT_MS);
    assert_eq!(events.len(), 1, "one event, for the watched fd: {events:?}");
    let (fd, flags) = events[0];
    assert_eq!(fd, setup.fd(), "the event's data is the fd that was added");
    assert_ne!(flags & IN, 0, "the event says EPOLLIN: {flags:#x}");
}

#[test]
fn add_watches_for_input_only() {
    let setup = Setup::new();
    assert_eq!(w_epoll_add_fd_in(setup.epfd(), setup.fd()), 0);
    // A fresh socket has room to write, but we asked only about input.
    assert_eq!(setup.wait(0), []);
}

#[test]
fn adding_the_same_fd_twice_fails_with_eexist() {
    let setup = Setup::new();
    assert_eq!(w_epoll_add_fd_in(setup.epfd(), setup.fd()), 0);
    assert_eq!(w_epoll_add_fd_in(setup.epfd(), setup.fd()), -1);
    assert_eq!(errno(), libc::EEXIST);
}

#[test]
fn after_delete_the_fd_is_no_longer_reported() {
    let mut setup = Setup::new();
    assert_eq!(w_epoll_add_fd_in(setup.epfd(), setup.fd()), 0);
    assert_eq!(w_epoll_del_fd(setup.epfd(), setup.fd()), 0);
    setup.send_something();
    assert_eq!(setup.wait(0), [], "a deleted fd is not watched any more");
}

#[test]
fn deleting_an_fd_that_is_not_registered_fails_with_enoent() {
    let setup = Setup::new();
    assert_eq!(w_epoll_del_fd(setup.epfd(), setup.fd()), -1);
    assert_eq!(errno(), libc::ENOENT);
}

#[test]
fn a_bad_epoll_fd_fails_with_ebadf() {
    let setup = Setup::new();
    assert_eq!(w_epoll_add_fd_in(-1, setup.fd()), -1);
    assert_eq!(errno(), libc::EBADF);
    assert_eq!(w_epoll_del_fd(-1, setup.fd()), -1);
    assert_eq!(errno(), libc::EBADF);
    assert_eq!(w_epoll_update_fd_inout(-1, setup.fd()), -1);
    assert_eq!(errno(), libc::EBADF);
}

#[test]
fn a_descriptor_that_is_not_an_epoll_instance_fails_with_einval() {
    let setup = Setup::new();
    // `peer` is a socket, not an epoll instance.
    assert_eq!(w_epoll_add_fd_in(setup.peer.as_raw_fd(), setup.fd()), -1);
    assert_eq!(errno(), libc::EINVAL);
}

#[test]
fn update_inout_reports_room_to_write_and_update_in_stops_it() {
    let setup = Setup::new();
    assert_eq!(w_epoll_add_fd_in(setup.epfd(), setup.fd()), 0);

    assert_eq!(w_epoll_update_fd_inout(setup.epfd(), setup.fd()), 0);
    let events = setup.wait(WAIT_FOR_EVENT_MS);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, setup.fd(), "the event's data is still the fd");
    assert_ne!(events[0].1 & OUT, 0, "an empty socket has room: EPOLLOUT");

    assert_eq!(w_epoll_update_fd_in(setup.epfd(), setup.fd()), 0);
    assert_eq!(setup.wait(0), [], "back to input only, and there is none");
}

#[test]
fn update_in_still_reports_input() {
    let mut setup = Setup::new();
    assert_eq!(w_epoll_add_fd_in(setup.epfd(), setup.fd()), 0);
    assert_eq!(w_epoll_update_fd_inout(setup.epfd(), setup.fd()), 0);
    assert_eq!(w_epoll_update_fd_in(setup.epfd(), setup.fd()), 0);
    setup.send_something();
    let events = setup.wait(WAIT_FOR_EVENT_MS);
    assert_eq!(events, [(setup.fd(), IN)]);
}

#[test]
fn updating_an_fd_that_is_not_registered_fails_with_enoent() {
    let setup = Setup::new();
    assert_eq!(w_epoll_update_fd_inout(setup.epfd(), setup.fd()), -1);
    assert_eq!(errno(), libc::ENOENT);
    assert_eq!(w_epoll_update_fd_in(setup.epfd(), setup.fd()), -1);
    assert_eq!(errno(), libc::ENOENT);
}
