//! The mistakes students are expected to make, graded: each is a small edit
//! of a copy of the solution, inside one of its solution blocks (what a
//! student writes). For each, the grader must take points, fail the check
//! that names the cause, with a hint that leads to it, and fail only a few
//! checks: feedback that fails everything points nowhere.
//!
//! A mistake whose text is no longer in the solution fails here by name:
//! update its edit to the solution's new wording. Each copy is graded in
//! `target/mistakes/NAME/`, where its report stays (`report.json`);
//! `MISTAKES=name,name` grades only those.
//!
//! Mistakes left out because no behaviour shows them: a socket closed
//! before (or without) its EPOLL_CTL_DEL (closing removes it from the set);
//! `io::stdin().read` into the 64 KiB buffer (std bypasses its 8 KiB buffer
//! for reads that large); read or write errors ignored instead of removing
//! the client (the next read returns 0 or an error again, and removes it);
//! WouldBlock from a write taken as a dead client (a write that takes
//! nothing needs a full socket with an empty outbox).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;
use std::time::Instant;

use crate::util::{self, Run};

/// One edit of a file of the solution: `find` must occur exactly once inside
/// the file's solution blocks; it becomes `replace`.
struct Edit {
    file: &'static str,
    find: &'static str,
    replace: &'static str,
}

/// A student's mistake and how the grader must report it.
struct Mistake {
    /// A short name: its folder under `target/mistakes/`.
    name: &'static str,
    /// The mistake, in words, with its TODO number.
    what: &'static str,
    edits: &'static [Edit],
    /// The check that names the cause.
    caught_by: &'static str,
    /// Words that check's hint must contain: what leads a student to the
    /// cause.
    hint_says: &'static [&'static str],
    /// The most checks it may fail in its part, or `None` for a mistake
    /// that is broad by nature (each such entry says why).
    most_failed: Option<usize>,
}

const fn edit(file: &'static str, find: &'static str, replace: &'static str) -> Edit {
    Edit {
        file,
        find,
        replace,
    }
}

const SERVER: &str = "src/server.rs";
const CLIENT: &str = "src/client.rs";
const WRAPPER: &str = "src/w_epoll.rs";

/// The parts a mistake in `file` can cost points in: the client's checks
/// run it against the reference server built into the grader, and the
/// server's against the grader's own peers, so a mistake in one cannot
/// show in the other. Grading only that part saves building the wrapper
/// tests and running the other part's checks.
fn parts(file: &str) -> &'static [&'static str] {
    match file {
        SERVER => &["--part", "server"],
        CLIENT => &["--part", "client"],
        _ => &[],
    }
}

static MISTAKES: &[Mistake] = &[
    // The wrapper.
    Mistake {
        name: "add-watches-output-too",
        what: "TODO 1: the event asks for EPOLLIN | EPOLLOUT",
        edits: &[edit(
            WRAPPER,
            "events: libc::EPOLLIN as u32,",
            "events: (libc::EPOLLIN | libc::EPOLLOUT) as u32,",
        )],
        caught_by: "wrapper/add",
        hint_says: &["TODO 1", "EPOLLIN"],
        // Broad by nature: the client, told that its blocking socket is
        // writable, blocks reading it, and the idle server spins.
        most_failed: None,
    },
    Mistake {
        name: "del-hides-its-error",
        what: "TODO 2: epoll_ctl's result is dropped and 0 returned",
        edits: &[edit(
            WRAPPER,
            "unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) }",
            "unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };\n    0",
        )],
        caught_by: "wrapper/del-missing",
        hint_says: &["TODO 2", "unchanged"],
        most_failed: Some(2),
    },
    Mistake {
        name: "update-adds",
        what: "TODO 3: EPOLL_CTL_ADD instead of EPOLL_CTL_MOD",
        edits: &[edit(WRAPPER, "libc::EPOLL_CTL_MOD", "libc::EPOLL_CTL_ADD")],
        caught_by: "wrapper/update",
        hint_says: &["TODO 3", "EPOLL_CTL_MOD"],
        most_failed: Some(4),
    },
    // The client.
    Mistake {
        name: "file-input-refused",
        what: "TODO 5: epoll's EPERM for a regular file on standard input is an error",
        edits: &[edit(
            CLIENT,
            "Err(err) if err.kind() == ErrorKind::PermissionDenied => false,\n",
            "",
        )],
        caught_by: "client/file-input",
        hint_says: &["TODO 5", "EPERM"],
        most_failed: Some(1),
    },
    Mistake {
        name: "client-busy-wait",
        what: "TODO 6: the client's epoll_wait has timeout 0: it polls",
        edits: &[edit(CLIENT, "timeout,", "0,")],
        caught_by: "client/idle-cpu",
        hint_says: &["TODO 6", "timeout -1"],
        most_failed: Some(1),
    },
    Mistake {
        name: "server-close-ignored",
        what: "TODO 7: the client goes on when relay_from_server says Stop",
        edits: &[edit(
            CLIENT,
            "if self.relay_from_server()? == Next::Stop {\n                            return Ok(());\n                        }",
            "self.relay_from_server()?;",
        )],
        caught_by: "client/server-close",
        hint_says: &["TODO 7", "0 bytes"],
        most_failed: Some(1),
    },
    Mistake {
        name: "stdin-read-line",
        what: "TODO 8: standard input read through std's buffered stdin (read_line)",
        edits: &[
            edit(
                CLIENT,
                "let count = sys::read_fd(STDIN, &mut self.read_buf)",
                "let mut line = String::new();\n        let count = io::stdin().read_line(&mut line)",
            ),
            edit(
                CLIENT,
                "self.pending.extend_from_slice(&self.read_buf[..count]);",
                "self.pending.extend_from_slice(line.as_bytes());",
            ),
        ],
        caught_by: "client/pipe",
        hint_says: &["TODO 8", "sys::read_fd", "buffered reader"],
        most_failed: Some(1),
    },
    Mistake {
        name: "exit-sent",
        what: "TODO 8: what was read is sent as it is, `exit` included",
        edits: &[edit(
            CLIENT,
            "self.send_complete_lines()",
            "self.socket.write_all(&self.pending)?;\n        self.pending.clear();\n        Ok(Next::Continue)",
        )],
        caught_by: "client/exit",
        hint_says: &["TODO 8", "exit"],
        most_failed: Some(1),
    },
    Mistake {
        name: "end-of-input-ignored",
        what: "TODO 8: a read of 0 bytes on standard input is not the end",
        edits: &[edit(
            CLIENT,
            "if count == 0 {\n            return self.finish_input();\n        }",
            "",
        )],
        caught_by: "client/eof",
        hint_says: &["TODO 8", "0 bytes"],
        // Standard input ends in client/eof, client/pipe and client/file-input.
        most_failed: Some(3),
    },
    // The server.
    Mistake {
        name: "signals-unwatched",
        what: "TODO 9: the signal descriptor is not added to the epoll set",
        edits: &[edit(
            SERVER,
            "check(\n            w_epoll_add_fd_in(epoll.as_raw_fd(), signals.as_raw_fd()),\n            \
             \"watch the signal descriptor\",\n        )?;",
            "",
        )],
        caught_by: "server/sigterm",
        hint_says: &["TODO 9", "signal descriptor"],
        most_failed: Some(1),
    },
    Mistake {
        name: "server-busy-wait",
        what: "TODO 10: the server's epoll_wait has timeout 0: it polls",
        edits: &[edit(SERVER, "timeout,", "0,")],
        caught_by: "server/idle-cpu",
        hint_says: &["TODO 10", "timeout -1"],
        // Every check that waits for the server to go idle.
        most_failed: Some(3),
    },
    Mistake {
        name: "events-off-by-one",
        what: "TODO 10: the server handles events[..=ready], one more than epoll_wait filled",
        edits: &[edit(
            SERVER,
            "for event in &events[..ready] {",
            "for event in &events[..=ready] {",
        )],
        caught_by: "server/burst",
        hint_says: &["TODO 10", "events[..ready]"],
        most_failed: Some(1),
    },
    Mistake {
        name: "accept-error-ends-server",
        what: "TODO 11: `accept()?`: the WouldBlock after the last waiting connection ends the server",
        edits: &[edit(
            SERVER,
            "let stream = match self.listener.accept() {\n                \
             Ok((stream, _)) => stream,\n                \
             Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),\n                \
             Err(err) if is_out_of_descriptors(&err) => return self.pause_accepting(),\n                \
             Err(err) => {\n                    \
             eprintln!(\"accept failed: {err}\");\n                    \
             continue;\n                \
             }\n            \
             };",
            "let (stream, _) = self.listener.accept()?;",
        )],
        caught_by: "server/join",
        hint_says: &["TODO 11", "WouldBlock"],
        // Broad by nature: the server exits once its first client is in.
        most_failed: None,
    },
    Mistake {
        name: "out-of-descriptors-not-paused",
        what: "TODO 11: EMFILE from accept is logged like any error, and the listener stays watched",
        edits: &[edit(
            SERVER,
            "Err(err) if is_out_of_descriptors(&err) => return self.pause_accepting(),",
            "",
        )],
        caught_by: "server/emfile",
        hint_says: &["TODO 11", "pause_accepting"],
        most_failed: Some(1),
    },
    Mistake {
        name: "accepted-blocking",
        what: "TODO 12: the accepted socket is left blocking",
        edits: &[edit(SERVER, "stream.set_nonblocking(true)?;", "")],
        caught_by: "server/slow-consumer",
        hint_says: &["TODO 12", "non-blocking"],
        most_failed: Some(3),
    },
    Mistake {
        name: "tag-from-local-address",
        what: "TODO 12: the tag is made from the server's own address (local_addr)",
        edits: &[edit(SERVER, "stream.peer_addr()?", "stream.local_addr()?")],
        caught_by: "server/tag",
        hint_says: &["TODO 12", "peer_addr"],
        // Broad by nature: every check tells peers apart by their tags.
        most_failed: None,
    },
    Mistake {
        name: "client-unwatched",
        what: "TODO 12: the accepted socket is not added to the epoll set",
        edits: &[edit(
            SERVER,
            "check(\n            w_epoll_add_fd_in(self.epoll.as_raw_fd(), fd),\n            \
             \"watch a new client\",\n        )?;",
            "",
        )],
        caught_by: "server/one-thread",
        hint_says: &["12", "every client socket"],
        // Broad by nature: no client is ever heard.
        most_failed: None,
    },
    Mistake {
        name: "edge-triggered",
        what: "TODOs 12 and 13: client sockets watched edge-triggered (EPOLLET), read once per event",
        edits: &[edit(
            SERVER,
            "\"watch a new client\",\n        )?;",
            "\"watch a new client\",\n        )?;\n        check(\n            \
             w_epoll_update_fd(self.epoll.as_raw_fd(), fd, libc::EPOLLIN | libc::EPOLLET),\n            \
             \"watch a new client, edge-triggered\",\n        )?;",
        )],
        caught_by: "server/partial-leave",
        hint_says: &["EPOLLET", "WouldBlock"],
        most_failed: Some(4),
    },
    Mistake {
        name: "leaver-kept",
        what: "TODO 13: a read of 0 bytes returns without removing the client",
        edits: &[edit(
            SERVER,
            "Ok(0) => return self.remove_client(fd),",
            "Ok(0) => return,",
        )],
        caught_by: "server/leave",
        hint_says: &["TODOs 13", "0 bytes"],
        most_failed: Some(6),
    },
    Mistake {
        name: "messages-not-cleared",
        what: "TODO 13: self.messages is not cleared before a read's lines go into it",
        edits: &[edit(
            SERVER,
            "self.messages.clear();\n        let messages = &mut self.messages;\n        let tag = &client.tag;",
            "let messages = &mut self.messages;\n        let tag = &client.tag;",
        )],
        caught_by: "server/broadcast",
        hint_says: &["clear"],
        // Broad by nature: every line resends all that came before it.
        most_failed: None,
    },
    Mistake {
        name: "echo-to-sender",
        what: "TODO 14: a line is also queued for its sender",
        edits: &[edit(
            SERVER,
            "if fd == from || client.outbox.len() > OUTBOX_LIMIT {",
            "if client.outbox.len() > OUTBOX_LIMIT {",
        )],
        caught_by: "server/broadcast",
        hint_says: &["14", "except the sender"],
        most_failed: Some(4),
    },
    Mistake {
        name: "no-outbox-limit",
        what: "TODO 14: a client past 1 MiB queued is never marked too slow",
        edits: &[edit(SERVER, "self.too_slow.push(fd);", "")],
        caught_by: "server/slow-consumer",
        hint_says: &["TODO 14", "1 MiB"],
        most_failed: Some(1),
    },
    Mistake {
        name: "outbox-cleared",
        what: "TODO 15: the whole outbox is cleared after a write, not just the bytes written",
        edits: &[edit(
            SERVER,
            "client.outbox.drain(..written);",
            "client.outbox.clear();",
        )],
        caught_by: "server/slow-reader",
        hint_says: &["TODO 15", "drain(..written)"],
        most_failed: Some(1),
    },
    Mistake {
        name: "epollout-never-off",
        what: "TODO 15: EPOLLOUT is switched on when bytes are left, never off once the outbox is empty",
        edits: &[edit(
            SERVER,
            "if bytes_left != client.wants_write {",
            "if bytes_left && !client.wants_write {",
        )],
        caught_by: "server/epollout-off",
        hint_says: &["TODO 15", "EPOLLOUT", "w_epoll_update_fd_in"],
        most_failed: Some(1),
    },
    Mistake {
        name: "wants-write-stale",
        what: "TODO 15: wants_write is never updated, so EPOLLOUT is never switched off",
        edits: &[edit(SERVER, "client.wants_write = bytes_left;", "")],
        caught_by: "server/epollout-off",
        hint_says: &["TODO 15", "EPOLLIN only"],
        most_failed: Some(1),
    },
    Mistake {
        name: "unfinished-line-dropped",
        what: "TODO 16: the leaver's unfinished line is not forwarded (no inbox.finish)",
        edits: &[edit(
            SERVER,
            "inbox.finish(|line| push_message(messages, &tag, line));",
            "",
        )],
        caught_by: "server/partial-leave",
        hint_says: &["TODO 16", "inbox.finish"],
        most_failed: Some(1),
    },
];

/// How many submissions are graded at once: each grader runs several
/// checks at once too, and the machine may have two cores.
const PARALLEL: usize = 2;

/// Where `text` has its solution blocks: (start, end) byte ranges between
/// the markers.
fn solution_blocks(text: &str) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut rest = 0;
    while let Some(begin) = text[rest..].find("// BEGIN SOLUTION") {
        let start = rest + begin;
        let Some(end) = text[start..].find("// END SOLUTION") else {
            break;
        };
        blocks.push((start, start + end));
        rest = start + end;
    }
    blocks
}

/// Applies `edit` to `text`, or says why it cannot.
fn apply(text: &str, edit: &Edit) -> Result<String, String> {
    let blocks = solution_blocks(text);
    let inside: Vec<usize> = text
        .match_indices(edit.find)
        .map(|(at, _)| at)
        .filter(|&at| {
            blocks
                .iter()
                .any(|&(start, end)| start <= at && at + edit.find.len() <= end)
        })
        .collect();
    match inside[..] {
        [at] => Ok([&text[..at], edit.replace, &text[at + edit.find.len()..]].concat()),
        [] => Err(format!(
            "{:?} is no longer inside a solution block of solution/{}",
            edit.find, edit.file
        )),
        _ => Err(format!(
            "{:?} is in {} places of the solution blocks of solution/{}: make it longer",
            edit.find,
            inside.len(),
            edit.file
        )),
    }
}

/// Every file of `dir` (but `target/`), by path relative to `root`.
fn read_tree(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).expect("read the solution's folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            if path.file_name() != Some("target".as_ref()) {
                read_tree(root, &path, files);
            }
        } else {
            let relative = path.strip_prefix(root).expect("under root").to_path_buf();
            files.insert(relative, std::fs::read(&path).expect("read a file"));
        }
    }
}

/// Writes `content` to `path` unless it holds that already: an unchanged
/// file keeps its time, so cargo rebuilds nothing on a rerun.
fn write_if_changed(path: &Path, content: &[u8]) {
    if std::fs::read(path).ok().as_deref() == Some(content) {
        return;
    }
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create a folder");
    std::fs::write(path, content).expect("write a file");
}

/// Removes the files under `dir` that `keep` does not list (relative to
/// `root`), so a file deleted from the solution goes from the copy too.
fn remove_others(root: &Path, dir: &Path, keep: &BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            remove_others(root, &path, keep);
        } else if !keep.contains_key(path.strip_prefix(root).expect("under root")) {
            std::fs::remove_file(&path).expect("remove a stale file");
        }
    }
}

/// Writes the mistaken copy of the solution as `<kit>/target/mistakes/NAME/
/// solution`, in a workspace of its own with the kit's settings, and returns
/// that folder. A stable folder rather than a fresh temporary one: a rerun
/// rebuilds only what changed.
fn mistaken_copy(mistake: &Mistake) -> Result<PathBuf, String> {
    let kit = util::kit();
    let mut files = BTreeMap::new();
    read_tree(&kit.join("solution"), &kit.join("solution"), &mut files);
    for edit in mistake.edits {
        let text = files
            .get(Path::new(edit.file))
            .ok_or_else(|| format!("solution/{} does not exist", edit.file))?;
        let text = String::from_utf8(text.clone()).expect("UTF-8 source");
        files.insert(PathBuf::from(edit.file), apply(&text, edit)?.into_bytes());
    }
    let folder = util::scratch("mistakes").join(mistake.name);
    let copy = folder.join("solution");
    remove_others(&copy, &copy, &files);
    for (path, content) in &files {
        write_if_changed(&copy.join(path), content);
    }

    // The solution inherits from the kit's workspace: the same manifest,
    // with the copy as its only member, and the same lock file.
    let manifest = std::fs::read_to_string(kit.join("Cargo.toml")).expect("the kit's manifest");
    let members = manifest
        .lines()
        .find(|line| line.starts_with("members = "))
        .expect("a `members = ` line in the kit's Cargo.toml");
    let manifest = manifest.replace(members, "members = [\"solution\"]");
    write_if_changed(&folder.join("Cargo.toml"), manifest.as_bytes());
    if let Ok(lock) = std::fs::read(kit.join("Cargo.lock")) {
        write_if_changed(&folder.join("Cargo.lock"), &lock);
    }
    Ok(copy)
}

/// What grading one mistake gave.
struct Graded {
    score: u64,
    max_score: u64,
    /// Failed checks, with their output.
    failed: BTreeMap<String, String>,
    /// Every check in the report.
    checks: BTreeSet<String>,
    /// The report's top-level text (says whether it built).
    summary: String,
    seconds: f64,
}

/// Grades `mistake` with `target` as the build folder. Each worker has one
/// for all its mistakes: libc is built once per worker, and the grader
/// rebuilds `chat` when the folder last built another copy.
fn grade(mistake: &Mistake, target: &Path) -> Result<Graded, String> {
    let copy = mistaken_copy(mistake)?;
    let folder = copy.parent().expect("the mistake's folder");
    let run = Run::new(
        util::grader()
            .arg("--dir")
            .arg(&copy)
            .args(["--format", "json"])
            .args(parts(mistake.edits[0].file))
            .env("CARGO_TARGET_DIR", target),
    );
    let seconds = run.seconds;
    // Kept for reading after a surprise.
    let _ = std::fs::write(folder.join("report.json"), &run.output.stdout);
    let report: serde_json::Value = serde_json::from_slice(&run.output.stdout)
        .map_err(|err| format!("not a JSON report ({err}): {}", run.explain()))?;
    let tests = report["tests"].as_array().ok_or("no tests in the report")?;
    let name = |test: &serde_json::Value| test["name"].as_str().unwrap_or("?").to_owned();
    Ok(Graded {
        score: report["score"].as_u64().ok_or("no score")?,
        max_score: report["max_score"].as_u64().ok_or("no max_score")?,
        failed: tests
            .iter()
            .filter(|test| test["status"] != "passed")
            .map(|test| (name(test), test["output"].as_str().unwrap_or("").to_owned()))
            .collect(),
        checks: tests.iter().map(name).collect(),
        summary: report["output"].as_str().unwrap_or("").to_owned(),
        seconds,
    })
}

/// The hint in a failed check's output (its `hint:` line).
fn hint(output: &str) -> &str {
    output
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("hint:"))
        .map_or(output, str::trim)
}

/// What is wrong with how the grader reported `mistake`, if anything.
fn judge(mistake: &Mistake, graded: &Graded) -> Vec<String> {
    let mut problems = Vec::new();
    let failed: Vec<&str> = graded.failed.keys().map(String::as_str).collect();
    if graded.failed.len() == graded.checks.len() {
        problems.push(format!(
            "every check failed; does the mistaken copy build? {}",
            graded.summary
        ));
    }
    if graded.score >= graded.max_score {
        problems.push(format!(
            "it scored full marks ({}/{})",
            graded.score, graded.max_score
        ));
    }
    if !graded.checks.contains(mistake.caught_by) {
        problems.push(format!(
            "the report has no check {} (is it in grader/src/catalog.rs?)",
            mistake.caught_by
        ));
    } else if let Some(output) = graded.failed.get(mistake.caught_by) {
        let hint = hint(output);
        let missing: Vec<&&str> = mistake
            .hint_says
            .iter()
            .filter(|word| !hint.contains(**word))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "the hint of {} does not say {missing:?}: {hint:?}",
                mistake.caught_by
            ));
        }
    } else {
        problems.push(format!(
            "{} passed; the failed checks were {failed:?}",
            mistake.caught_by
        ));
    }
    if let Some(most) = mistake.most_failed
        && graded.failed.len() > most
    {
        problems.push(format!(
            "{} checks failed, more than the {most} this mistake may cost: {failed:?}",
            graded.failed.len()
        ));
    }
    problems
}

#[test]
fn each_mistake_fails_the_check_that_names_its_cause() {
    let _heavy = util::one_heavy_test_at_a_time();
    let started = Instant::now();
    let only = std::env::var("MISTAKES").unwrap_or_default();
    for name in only.split(',').filter(|name| !name.is_empty()) {
        assert!(
            MISTAKES.iter().any(|m| m.name == name),
            "MISTAKES names {name}, which is not a mistake here"
        );
    }
    let queue = Mutex::new(
        MISTAKES
            .iter()
            .rev()
            .filter(|m| only.is_empty() || only.split(',').any(|name| name == m.name))
            .collect::<Vec<_>>(),
    );
    let graded = queue.lock().expect("queue").len();
    let problems = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for worker in 0..PARALLEL {
            let (queue, problems) = (&queue, &problems);
            scope.spawn(move || {
                let target = util::scratch("mistakes").join(format!("target-{worker}"));
                loop {
                    let Some(mistake) = queue.lock().expect("queue").pop() else {
                        return;
                    };
                    let found = match grade(mistake, &target) {
                        Ok(graded) => {
                            eprintln!(
                                "mistake {}: score {}/{}, failed {:?}, {:.1} s",
                                mistake.name,
                                graded.score,
                                graded.max_score,
                                graded.failed.keys().collect::<Vec<_>>(),
                                graded.seconds
                            );
                            judge(mistake, &graded)
                        }
                        Err(why) => vec![why],
                    };
                    problems.lock().expect("problems").extend(
                        found
                            .into_iter()
                            .map(|why| format!("{} ({}): {why}", mistake.name, mistake.what)),
                    );
                }
            });
        }
    });
    eprintln!(
        "{graded} mistakes graded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let problems = problems.into_inner().expect("problems");
    assert!(
        problems.is_empty(),
        "{} problems with how the grader reports students' mistakes \
         (reports in target/mistakes/NAME/report.json):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn an_edit_applies_only_to_text_found_once_inside_a_solution_block() {
    let source = "let a = 1; // outside\n// BEGIN SOLUTION\nlet a = 1;\nlet b = 2;\nlet b = 2;\n// END SOLUTION\n";
    let once = edit(SERVER, "let a = 1;", "let a = 0;");
    assert_eq!(
        apply(source, &once).expect("found once in the block"),
        source.replacen("let a = 1;\nlet b", "let a = 0;\nlet b", 1)
    );
    let outside = edit(SERVER, "// outside", "");
    let why = apply(source, &outside).expect_err("only outside the blocks");
    assert!(why.contains("no longer inside a solution block"), "{why}");
    let twice = edit(SERVER, "let b = 2;", "");
    let why = apply(source, &twice).expect_err("twice in the block");
    assert!(why.contains("in 2 places"), "{why}");
}
