// LAB 2: the room (lab-docs/room.md)
//! Starting a helper for a client: two pipes, `fork`, and `execv` of
//! `room-helper` in the child, with the descriptor numbers as arguments.
//!
//! `fork` makes a copy of the room: same memory, same open descriptors
//! (each one now open in both processes). `execv` then replaces the copy's
//! program by `room-helper`. Memory does not survive `exec`, so a Rust
//! variable holding the socket is gone; what survives is the open
//! descriptors, under their numbers, and the arguments. That is why the
//! helper gets the numbers on its command line: `room-helper 5 6 9`.
//!
//! Every descriptor of the room is *close-on-exec* (`O_CLOEXEC`): the
//! kernel closes it at `exec`, so a helper never inherits the listener, the
//! epoll instance, the self-pipe or other clients' sockets and pipes. In the
//! child, between `fork` and `exec`, we clear that flag on exactly the three
//! descriptors the helper needs, after setting it on every other one (the
//! room may have inherited descriptors it never opened, from whatever
//! started it, without the flag). Each side then closes the ends it does not
//! use: a pipe reports end-of-file only once *every* copy of its write end
//! is closed, so a stray copy would keep the other side waiting for ever.

use std::ffi::{CStr, CString};
use std::fs::{self, File};
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;

use libc::{c_char, c_int, c_uint};

use super::signals::pipe;
use crate::sys::{check, with_context};

/// The helper's file name: it lies next to the `room` executable.
pub const HELPER_NAME: &str = "room-helper";

/// The two pipes between the room and a helper, made before the connection
/// is accepted: if there are no descriptors left for them, the connection
/// waits in the listener's backlog instead of being accepted and dropped.
#[derive(Debug)]
pub struct Pipes {
    /// Room to helper: the helper reads `down_read` (its PIPE_IN).
    down_read: OwnedFd,
    down_write: OwnedFd,
    /// Helper to room: the helper writes `up_write` (its PIPE_OUT).
    up_read: OwnedFd,
    up_write: OwnedFd,
}

impl Pipes {
    /// Makes both pipes, close-on-exec like every descriptor of the room
    /// (the child clears the flag on its own ends only). The error is
    /// errno as it is, so that the caller can tell EMFILE.
    pub fn new() -> io::Result<Self> {
        let (down_read, down_write) = pipe(libc::O_CLOEXEC)?;
        let (up_read, up_write) = pipe(libc::O_CLOEXEC)?;
        Ok(Self {
            down_read,
            down_write,
            up_read,
            up_write,
        })
    }
}

/// A helper the room started: its process, and the room's ends of its
/// pipes (non-blocking, close-on-exec).
#[derive(Debug)]
pub struct Helper {
    pub pid: libc::pid_t,
    /// Where the room writes its orders (the helper's PIPE_IN).
    pub to_helper: File,
    /// Where the room reads the helper's reports (its PIPE_OUT).
    pub from_helper: File,
}

/// The path of `room-helper`: in the folder of the running executable,
/// which `/proc/self/exe` names.
pub fn helper_path() -> io::Result<CString> {
    let exe = fs::read_link("/proc/self/exe")
        .map_err(|err| with_context(err, "find the running executable (/proc/self/exe)"))?;
    let path = exe.with_file_name(HELPER_NAME);
    if !path.is_file() {
        return Err(io::Error::other(format!(
            "{HELPER_NAME} is not next to this program: no file {}",
            path.display()
        )));
    }
    CString::new(path.into_os_string().into_vec())
        .map_err(|_| io::Error::other("the helper's path holds a NUL byte"))
}

/// Starts `room-helper` (at `exe`) for the client on `socket`, connected to
/// the room by `pipes`. The room's copy of the socket and the helper's ends
/// of the pipes are closed on return: from now on only the helper talks to
/// the client.
pub fn spawn(exe: &CStr, socket: TcpStream, pipes: Pipes) -> io::Result<Helper> {
    let Pipes {
        down_read,
        down_write,
        up_read,
        up_write,
    } = pipes;
    let kept: [RawFd; 3] = [
        socket.as_raw_fd(),
        down_read.as_raw_fd(),
        up_write.as_raw_fd(),
    ];

    // Everything the child uses is made before `fork`: between `fork` and
    // `exec` the child may only call async-signal-safe functions (in a
    // process with threads, another thread may have held the allocator's
    // lock at the fork, and no thread is left to release it), so it must
    // not allocate.
    let mut args = vec![exe.to_owned()];
    for fd in kept {
        args.push(CString::new(fd.to_string()).map_err(io::Error::other)?);
    }
    let mut argv: Vec<*const c_char> = args.iter().map(|arg| arg.as_ptr()).collect();
    argv.push(std::ptr::null());
    let failed: &[u8] = b"room: could not start room-helper in a child\n";

    // SAFETY: fork takes no pointers. The room has one thread, and the
    // child only calls async-signal-safe functions before exec or _exit.
    let pid = check(unsafe { libc::fork() }, "fork a helper")?;
    if pid == 0 {
        // The child. (A signal that arrives before exec runs the room's
        // handler here, which writes to this copy of the self-pipe: the room
        // wakes for nothing, and exec closes the copy.)
        // TODO 20: In the child: first make every descriptor from 3 up
        //          close-on-exec, those the room inherited from whoever
        //          started it included (`libc::close_range(3, c_uint::MAX,
        //          libc::CLOSE_RANGE_CLOEXEC as c_int)`; if the kernel is too
        //          old for it, go on: the room's own are close-on-exec
        //          anyway). Then clear close-on-exec on each descriptor of
        //          `kept` with `libc::fcntl(fd, libc::F_SETFD, 0)`; close the
        //          room's ends of the pipes (`down_write`, `up_read`) with
        //          `libc::close`; then `libc::execv(exe.as_ptr(),
        //          argv.as_ptr())`. execv returns only if it failed, and so
        //          does a failed fcntl: then write `failed` to standard error
        //          with `libc::write` (`failed.as_ptr().cast()`) and end the child with
        //          `libc::_exit(127)` (not `exit`, which would run the
        //          room's clean-up in the copy). Only async-signal-safe
        //          calls here: no `?`, no `eprintln!`, no allocation.
        // BEGIN SOLUTION
        // SAFETY: close_range takes no pointers; with CLOSE_RANGE_CLOEXEC it
        // only sets a flag on the descriptors that are open.
        unsafe { libc::close_range(3, c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as c_int) };
        for fd in kept {
            // SAFETY: fcntl(F_SETFD) takes no pointers; `fd` is open.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
                break;
            }
        }
        // SAFETY: close takes no pointers; this copy of the descriptor is
        // the child's, and nothing in the child uses it again.
        unsafe { libc::close(down_write.as_raw_fd()) };
        // SAFETY: likewise.
        unsafe { libc::close(up_read.as_raw_fd()) };
        // SAFETY: `exe` and every element of `argv` are NUL-terminated
        // strings that live until exec, and `argv` ends with a null pointer.
        unsafe { libc::execv(exe.as_ptr(), argv.as_ptr()) };
        // SAFETY: `failed` is readable for its length; write is
        // async-signal-safe.
        unsafe { libc::write(libc::STDERR_FILENO, failed.as_ptr().cast(), failed.len()) };
        // SAFETY: _exit ends the child at once, which is what we want.
        unsafe { libc::_exit(127) };
        // END SOLUTION
        // STUB: eprintln!("not yet implemented: TODO 20");
        // STUB: std::process::exit(127);
    }

    // TODO 21: In the room: close what the helper alone uses, its ends of
    //          the pipes and the room's copy of the socket (`drop` each of
    //          `socket`, `down_read` and `up_write`). Make the room's ends
    //          non-blocking (`set_nonblocking` on `down_write` and
    //          `up_read`): the room must never wait for one helper. Then
    //          return the `Helper`, its pipes as `File::from(down_write)`
    //          and `File::from(up_read)`.
    // BEGIN SOLUTION
    drop(socket);
    drop(down_read);
    drop(up_write);
    set_nonblocking(&down_write)?;
    set_nonblocking(&up_read)?;
    Ok(Helper {
        pid,
        to_helper: File::from(down_write),
        from_helper: File::from(up_read),
    })
    // END SOLUTION
}

/// Adds O_NONBLOCK to the status flags of `fd`.
fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl(F_GETFL) takes no pointers; `fd` is open.
    let flags = check(
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) },
        "read a pipe's flags",
    )?;
    check(
        // SAFETY: fcntl(F_SETFL) takes no pointers; `fd` is open.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) },
        "make a pipe non-blocking",
    )?;
    Ok(())
}
