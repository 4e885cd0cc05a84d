//! What lab 2 is about, seen from outside: `/proc` shows the processes,
//! their descriptors, their command lines and their mappings; `/dev/shm`
//! shows the ring; the peers show the timing of idle disconnects and what
//! happens when the ring is full.
//!
//! Each scenario is `harness::room`'s, the one `grader --lab room` runs
//! for the check of the same mechanism: the lab's tests and the grade
//! cannot disagree. Only what the lab text asks of this crate beyond the
//! grade (the helper's command line, a stale ring removed, the usage) is
//! tested here alone.

use std::fs;

use harness::room::{self as mechanisms, cmdline};
use harness::rules::UnderTest;
use harness::{Failure, procfs};

use crate::procs::{Room, run, shm_path};

#[test]
fn each_client_has_a_helper_that_runs_room_helper_with_its_socket_by_number() {
    run(|c| {
        let room = Room::start(c, &[])?;
        mechanisms::helpers(c, &room)?;
        // The lab's command line: `room-helper FD PIPE_IN PIPE_OUT`, the
        // socket first, then the two pipes.
        let peers = c.set_up_peers(room.port(), 2)?;
        c.step("look at the command line of A's and B's helpers");
        for peer in peers.iter() {
            let Some((helper, _)) = mechanisms::helper_of(room.pid(), peer.port()) else {
                return Err(Failure::new(format!(
                    "no helper has {}'s socket under a number its command line names",
                    peer.name
                )));
            };
            let args = cmdline(helper);
            let open = procfs::descriptors(helper)
                .map_err(|err| Failure::new(format!("could not read /proc: {err}")))?;
            let is = |arg: Option<&String>, kind: &str| {
                arg.and_then(|fd| fd.parse::<i32>().ok()).is_some_and(|fd| {
                    open.iter()
                        .any(|(n, target)| *n == fd && target.starts_with(kind))
                })
            };
            let exe_ok = args
                .first()
                .is_some_and(|exe| exe.ends_with("/room-helper"));
            if !exe_ok
                || args.len() != 4
                || !is(args.get(1), "socket:")
                || !is(args.get(2), "pipe:")
                || !is(args.get(3), "pipe:")
            {
                return Err(Failure {
                    summary: format!("{}'s helper has the wrong command line", peer.name),
                    expected: Some(
                        "PATH/room-helper FD PIPE_IN PIPE_OUT: its socket, then two pipes".into(),
                    ),
                    seen: Some(format!("{args:?}, with descriptors {open:?}")),
                    ..Failure::default()
                });
            }
        }
        Ok(())
    });
}

#[test]
fn helpers_and_the_room_hold_only_the_descriptors_they_need() {
    run(|c| mechanisms::descriptors(c, &Room::start(c, &[])?));
}

#[test]
fn signals_reach_the_loop_through_a_self_pipe_in_the_epoll_set() {
    run(|c| mechanisms::self_pipe(c, &Room::start(c, &[])?));
}

#[test]
fn every_helper_maps_the_rooms_shared_memory() {
    run(|c| {
        let room = Room::start(c, &[])?;
        mechanisms::shared_memory(c, &room)?;
        // The lab names the ring after the room's process id.
        let ring = shm_path(room.pid());
        if !fs::exists(&ring).unwrap_or(false) {
            return Err(Failure::new(format!(
                "the room has no shared memory {ring}"
            )));
        }
        Ok(())
    });
}

#[test]
fn no_helper_is_left_a_zombie_after_clients_leave() {
    run(|c| mechanisms::reaping(c, &Room::start(c, &[])?));
}

#[test]
fn idle_users_are_disconnected_on_time_and_only_sending_resets_the_timer() {
    run(|c| {
        let secs = mechanisms::IDLE_SECS.to_string();
        mechanisms::idle(c, &Room::start(c, &["--idle", &secs])?)
    });
}

#[test]
fn sigterm_ends_every_helper_and_removes_the_shared_memory() {
    run(|c| {
        let mut room = Room::start(c, &[])?;
        let peers = c.set_up_peers(room.port(), 3)?;
        let before = mechanisms::before_end(&room)?;
        c.step(format!(
            "send SIGTERM to the room; it has the helpers {:?} and maps {:?}",
            before.helpers, before.shm
        ));
        room.signal(libc::SIGTERM);
        let status = room.wait_exit(c.until());
        harness::process::expect_exit_status("the room", status, 0)?;
        mechanisms::after_end(&before)?;
        for peer in peers.iter() {
            peer.expect_closed()?;
        }
        Ok(())
    });
}

#[test]
fn a_slot_is_freed_once_copied_even_if_a_client_does_not_read() {
    run(|c| mechanisms::slow_reader(c, &Room::start(c, &[])?));
}

#[test]
fn when_the_ring_wraps_onto_a_stuck_helper_its_client_is_disconnected() {
    run(|c| mechanisms::full_ring(c, &Room::start(c, &[])?));
}

#[test]
fn out_of_descriptors_newcomers_wait_in_the_backlog_and_all_get_in() {
    run(|c| {
        let room = Room::start_with_fd_limit(c, mechanisms::EMFILE_LIMIT)?;
        mechanisms::out_of_descriptors(c, &room)
    });
}

#[test]
fn a_room_removes_the_rings_of_rooms_that_were_killed() {
    run(|c| {
        // A process id above pid_max belongs to no process, ever.
        let pid_max: u64 = fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(4_194_304);
        let stale = format!("/dev/shm/chat-room-{}", pid_max + 1);
        c.step(format!(
            "make {stale}, as a room killed by SIGKILL leaves its ring"
        ));
        fs::write(&stale, b"").map_err(|err| Failure::new(format!("write {stale}: {err}")))?;
        let _room = Room::start(c, &[])?;
        if fs::exists(&stale).unwrap_or(true) {
            let _ = fs::remove_file(&stale);
            return Err(Failure::new(format!(
                "the room started and left {stale}, whose process is gone"
            )));
        }
        Ok(())
    });
}

#[test]
fn bad_arguments_print_the_usage_and_exit_2() {
    for args in [
        &["--idle"][..],
        &["--idle", "0"],
        &["--idle", "x"],
        &["1", "2"],
    ] {
        assert_cmd::Command::new(crate::procs::room_exe())
            .args(args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(
                "usage: room [--idle SECS] [PORT]",
            ));
    }
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_room-helper"))
        .args(["1", "2"])
        .assert()
        .code(2);
    // Numbers of descriptors that are not open: said, status 1.
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_room-helper"))
        .args(["97", "98", "99"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("descriptor 97"));
}
