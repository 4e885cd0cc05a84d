//! Lab 2's checks (`grader --lab room`): the submission's `room` and
//! `select-client`.
//!
//! The room speaks lab 1's protocol, so lab 1's server rules
//! ([`harness::rules`]) run against it unchanged; the mechanisms lab 2 is
//! about (a helper per client, descriptors, reaping, the self-pipe, shared
//! memory, idle timers, SIGTERM, the ring) are [`harness::room`]'s
//! scenario functions, which the lab's own tests can call too.
//! `select-client` runs lab 1's client checks ([`super::client`]), with
//! `--client` set to it, plus the check that it waits in `select`.
//!
//! A room is a process group: the room and the helpers it forks. [`Room`]
//! stops all of it when a check ends, and removes the shared-memory
//! objects a killed room could not.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use harness::room as mechanisms;
use harness::rules::client::ClientUnderTest;
use harness::rules::{self, UnderTest};
use harness::{Failure, procfs};

use crate::context::{CheckContext, Outcome};
use crate::launch::{self, Server};
use crate::pty::Terminal;
use crate::sandbox::Limits;

/// The submission's room, running; stopped with its helpers, and its
/// shared memory removed, when dropped.
#[derive(Debug)]
pub struct Room {
    server: Option<Server>,
}

impl Room {
    fn server(&mut self) -> &mut Server {
        self.server.as_mut().expect("until dropped")
    }
}

impl UnderTest for Room {
    fn port(&self) -> u16 {
        self.server.as_ref().map_or(0, |s| s.port)
    }

    fn pid(&self) -> u32 {
        self.server.as_ref().map_or(0, Server::pid)
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        // Only while the room is not reaped is its pid still its own: then
        // its children are its helpers.
        let running = server.process.try_status().is_none();
        let pid = server.pid();
        let (helpers, shm, uid) = if running {
            (
                mechanisms::children(pid),
                mechanisms::shm_objects(pid).unwrap_or_default(),
                fs::metadata(format!("/proc/{pid}")).map(|m| m.uid()).ok(),
            )
        } else {
            (Vec::new(), Vec::new(), None)
        };
        // Kills the room's process group and reaps the room.
        drop(server);
        // A helper that left the group is killed by its pid: orphaned, it is
        // the grader's child now (its subreaper), not reaped until the end.
        for helper in helpers {
            harness::process::signal(helper, libc::SIGKILL);
        }
        // What the room would have removed on SIGTERM: only objects of the
        // room's own user.
        for object in shm {
            if uid.is_some() && fs::metadata(&object).ok().map(|m| m.uid()) == uid {
                let _ = fs::remove_file(&object);
            }
        }
    }
}

impl CheckContext {
    /// Starts the submission's room, `room ARGS 0`, with the run's limits.
    pub fn room(&self, args: &[&str]) -> Result<Room, Failure> {
        self.room_with(args, self.config().limits)
    }

    /// [`CheckContext::room`] with other limits.
    pub fn room_with(&self, args: &[&str], limits: Limits) -> Result<Room, Failure> {
        let exe = self
            .config()
            .server
            .clone()
            .ok_or_else(|| self.fail("no room to test"))?;
        let mut command = Command::new(&exe);
        command.args(args).arg("0");
        launch::submission_env(&mut command);
        Ok(Room {
            server: Some(Server::start(self, command, "the room", limits)?),
        })
    }
}

/// Runs `rule` against the submission's room, started with the run's
/// limits.
fn against_room(
    s: &CheckContext,
    rule: fn(&harness::Context, &dyn UnderTest) -> Outcome,
) -> Outcome {
    let room = s.room(&[])?;
    rule(s.harness(), &room)
}

// ---------------------------------------------------------------------------
// Lab 1's server rules, against the room.

pub fn ready(s: &CheckContext) -> Outcome {
    let room = s.room(&[])?;
    s.peer(room.port())?;
    Ok(())
}

pub fn join(s: &CheckContext) -> Outcome {
    against_room(s, rules::join)
}

pub fn broadcast(s: &CheckContext) -> Outcome {
    against_room(s, rules::broadcast)
}

pub fn tag(s: &CheckContext) -> Outcome {
    against_room(s, rules::tag)
}

pub fn empty_and_cr(s: &CheckContext) -> Outcome {
    against_room(s, rules::empty_and_cr)
}

pub fn leave(s: &CheckContext) -> Outcome {
    against_room(s, rules::leave)
}

pub fn split(s: &CheckContext) -> Outcome {
    against_room(s, rules::split)
}

pub fn merged(s: &CheckContext) -> Outcome {
    against_room(s, rules::merged)
}

pub fn long_line(s: &CheckContext) -> Outcome {
    against_room(s, rules::long_line)
}

pub fn partial_leave(s: &CheckContext) -> Outcome {
    against_room(s, rules::partial_leave)
}

pub fn reset(s: &CheckContext) -> Outcome {
    against_room(s, rules::reset)
}

pub fn fifty(s: &CheckContext) -> Outcome {
    against_room(s, rules::fifty)
}

pub fn burst(s: &CheckContext) -> Outcome {
    against_room(s, rules::burst)
}

pub fn slow_consumer(s: &CheckContext) -> Outcome {
    against_room(s, rules::slow_consumer)
}

pub fn idle_cpu(s: &CheckContext) -> Outcome {
    against_room(s, rules::idle_cpu)
}

pub fn fd_leak(s: &CheckContext) -> Outcome {
    against_room(s, rules::fd_leak)
}

pub fn end_to_end(s: &CheckContext) -> Outcome {
    let room = s.room(&[])?;
    super::server::chat_on_terminals(s, room.port())
}

// ---------------------------------------------------------------------------
// The mechanisms.

pub fn helpers(s: &CheckContext) -> Outcome {
    let room = s.room(&[])?;
    mechanisms::helpers(s.harness(), &room)?;
    // Each helper must be the submission's own room-helper, when it was
    // built from a crate (a room that runs some other program does not
    // pass).
    if let Some(expected) = &s.config().helper {
        for helper in mechanisms::children(room.pid()) {
            launch::check_built(helper, expected).map_err(|instead| Failure {
                summary: format!("helper {helper} is not the crate's room-helper"),
                expected: Some(format!("{} to run", expected.display())),
                seen: Some(format!("it runs {instead}")),
                ..Failure::default()
            })?;
        }
    }
    Ok(())
}

pub fn descriptors(s: &CheckContext) -> Outcome {
    against_room(s, mechanisms::descriptors)
}

pub fn reaping(s: &CheckContext) -> Outcome {
    against_room(s, mechanisms::reaping)
}

pub fn self_pipe(s: &CheckContext) -> Outcome {
    against_room(s, mechanisms::self_pipe)
}

pub fn shared_memory(s: &CheckContext) -> Outcome {
    against_room(s, mechanisms::shared_memory)
}

pub fn idle(s: &CheckContext) -> Outcome {
    let secs = mechanisms::IDLE_SECS.to_string();
    let room = s.room(&["--idle", &secs])?;
    mechanisms::idle(s.harness(), &room)
}

pub fn sigterm(s: &CheckContext) -> Outcome {
    let mut room = s.room(&[])?;
    let peers = s.peers(room.port(), 3)?;
    let before = mechanisms::before_end(&room)?;
    s.step(format!(
        "send SIGTERM to the room; it has the helpers {:?} and maps {:?}",
        before.helpers, before.shm
    ));
    let uid = fs::metadata(format!("/proc/{}", room.pid()))
        .map(|m| m.uid())
        .ok();
    room.server().process.signal(libc::SIGTERM);
    let status = room.server().process.wait_exit(s.until());
    let ended = harness::process::expect_exit_status("the room", status, 0)
        .and_then(|()| mechanisms::after_end(&before));
    // Once reaped, the room is no longer there for [`Room`] to clean up
    // after: remove what it left in /dev/shm here.
    for object in &before.shm {
        if uid.is_some() && fs::metadata(object).ok().map(|m| m.uid()) == uid {
            let _ = fs::remove_file(object);
        }
    }
    ended?;
    for peer in &peers {
        peer.expect_closed()?;
    }
    Ok(())
}

pub fn slow_reader(s: &CheckContext) -> Outcome {
    against_room(s, mechanisms::slow_reader)
}

pub fn full_ring(s: &CheckContext) -> Outcome {
    against_room(s, mechanisms::full_ring)
}

pub fn emfile(s: &CheckContext) -> Outcome {
    let limits = Limits {
        open_files: mechanisms::EMFILE_LIMIT,
        ..s.config().limits
    };
    s.step(format!(
        "start the room with a limit of {} open descriptors",
        mechanisms::EMFILE_LIMIT
    ));
    let room = s.room_with(&[], limits)?;
    mechanisms::out_of_descriptors(s.harness(), &room)
}

// ---------------------------------------------------------------------------
// select-client.

/// An idle `select-client` in the reference server's chat waits in
/// `select`, with no epoll instance, and still receives.
pub fn select(s: &CheckContext) -> Outcome {
    let server = s.reference_server()?;
    let a = s.peer(server.port)?;
    let exe = s
        .config()
        .client
        .clone()
        .ok_or_else(|| s.fail("no client to test"))?;
    let args = ["127.0.0.1".to_owned(), server.port.to_string()];
    let client = Terminal::start(s, &exe, &args, "the client", s.config().limits)?;
    let line = a.next_line()?;
    if !line.ends_with(b" (connected)") {
        return Err(Failure {
            summary: "the client did not join the chat".into(),
            expected: Some("\"[TAG] (connected)\"".into()),
            seen: Some(harness::show(&line)),
            ..Failure::default()
        }
        .not_checked("select-client/receive"));
    }
    mechanisms::waits_in_select(s.harness(), client.pid())?;
    let threads = procfs::threads(client.pid())
        .map_err(|err| s.fail(format!("could not read /proc: {err}")))?;
    if threads != 1 {
        return Err(Failure {
            summary: "the client runs more than one thread".into(),
            expected: Some("1 thread".into()),
            seen: Some(format!("{threads} threads")),
            ..Failure::default()
        });
    }
    Ok(())
}
