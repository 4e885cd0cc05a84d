//! The room and `select-client` as child processes of a test. What `/proc`
//! shows of the room's children is `harness::room`'s.

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use harness::rules::UnderTest;
use harness::{Context, Failure, Inbox, Outcome};

/// The longest wait for any one expected thing.
pub const STEP: Duration = Duration::from_secs(10);

/// The longest a whole test may take.
pub const LIMIT: Duration = Duration::from_secs(90);

/// The room under test: this crate's, or `CHAT_ROOM_EXE`.
pub fn room_exe() -> String {
    std::env::var("CHAT_ROOM_EXE").unwrap_or_else(|_| env!("CARGO_BIN_EXE_room").to_owned())
}

/// The client under test: this crate's `select-client`, or
/// `CHAT_SELECT_CLIENT_EXE`.
pub fn select_client_exe() -> String {
    std::env::var("CHAT_SELECT_CLIENT_EXE")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_select-client").to_owned())
}

/// Runs `test` in a fresh context; on failure, panics with everything the
/// failure says: steps, expected and seen, the transcripts (the room's
/// stderr among them).
pub fn run(test: impl FnOnce(&Context) -> Outcome) {
    let context = Context::new(STEP, LIMIT);
    if let Err(failure) = test(&context) {
        panic!("{}", context.finish(failure));
    }
}

/// A running room, started with `room [ARGS] 0`.
pub struct Room {
    child: Child,
    port: u16,
    /// Its standard output after the readiness line (kept, so that the
    /// room never blocks on a full pipe).
    _stdout: Inbox,
    /// What it logs: kept, so that a failure's transcript shows it.
    _stderr: Inbox,
}

impl Room {
    /// Starts `room ARGS 0` and waits for its readiness line. Its stdout and
    /// stderr are shown when the test fails.
    pub fn start(c: &Context, args: &[&str]) -> Result<Room, Failure> {
        c.step(format!("start room {} 0", args.join(" ")));
        Room::start_with(c, Command::new(room_exe()).args(args))
    }

    /// Starts `room 0` with at most `limit` open descriptors.
    pub fn start_with_fd_limit(c: &Context, limit: u64) -> Result<Room, Failure> {
        c.step(format!(
            "start room 0 with a limit of {limit} open descriptors"
        ));
        let mut command = Command::new(room_exe());
        harness::process::limit_descriptors(&mut command, limit);
        Room::start_with(c, &mut command)
    }

    fn start_with(c: &Context, command: &mut Command) -> Result<Room, Failure> {
        // Descriptors this test inherited (cargo's jobserver pipe, say)
        // would be the room's too, and fail the tests of its descriptors:
        // close them at exec.
        // SAFETY: the closure runs in the child between fork and exec and
        // only makes the close_range system call, which allocates nothing.
        unsafe {
            command.pre_exec(|| {
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                );
                Ok(())
            });
        }
        let mut child = command
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Failure::new(format!("could not start {}: {err}", room_exe())))?;
        let stdout = c.watch("the room's stdout", child.stdout.take().expect("piped"));
        let stderr = c.watch("the room's stderr", child.stderr.take().expect("piped"));
        let port = harness::process::ready_port("the room", &stdout, c.until());
        // Made before `?`, so that dropping it ends the room on a failure.
        let mut room = Room {
            child,
            port: 0,
            _stdout: stdout,
            _stderr: stderr,
        };
        room.port = port?;
        Ok(room)
    }

    /// Sends `signal` to the room (not to its helpers).
    pub fn signal(&self, signal: libc::c_int) {
        harness::process::signal(self.child.id(), signal);
    }

    /// Waits, until `until`, for the room to exit; `None` if it did not.
    pub fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            // Polling a child's state has no event to wait on short of
            // SIGCHLD; a short period bounds the delay.
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl UnderTest for Room {
    fn port(&self) -> u16 {
        self.port
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Room {
    /// Ends the room the way it is meant to end (SIGTERM: it ends its
    /// helpers and removes its shared memory); if it does not within a few
    /// seconds, kills it and whatever it left.
    fn drop(&mut self) {
        let pid = self.child.id();
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let helpers = harness::room::children(pid);
        self.signal(libc::SIGTERM);
        if self
            .wait_exit(Instant::now() + Duration::from_secs(5))
            .is_some()
        {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for helper in helpers {
            harness::process::signal(helper, libc::SIGKILL);
        }
        let _ = fs::remove_file(shm_path(pid));
    }
}

/// Where the ring of the room `pid` appears.
pub fn shm_path(pid: u32) -> String {
    format!("/dev/shm/chat-room-{pid}")
}
