//! A broken submission costs its points and nothing else: the grader
//! finishes within its bounds and leaves no process behind, even when the
//! submission hangs, spins, floods its output, escapes its process group,
//! or the grader itself is interrupted.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::util::{self, Run};

fn hostile(name: &str) -> PathBuf {
    util::kit().join("grader/tests/hostile").join(name)
}

/// A marker unique to one test, put in the command line of every process
/// the hostile program starts.
fn marker(test: &str) -> String {
    format!("chatkit-{test}-{}", std::process::id())
}

/// Grades `server` on one check, as JSON: the run and its report.
fn grade_one_check(server: &Path, marker: &str) -> (Run, serde_json::Value) {
    let _heavy = util::one_heavy_test_at_a_time();
    let run = Run::new(
        util::grader()
            .arg("--server")
            .arg(server)
            .args(["--check", "server/join", "--format", "json"])
            .env("HOSTILE_MARKER", marker),
    );
    let report = run.json();
    (run, report)
}

fn only_test_output(report: &serde_json::Value) -> String {
    report["tests"][0]["output"]
        .as_str()
        .expect("an output")
        .to_owned()
}

#[test]
fn a_submission_starts_with_no_signal_blocked_or_ignored() {
    // The grader blocks SIGINT, SIGTERM and SIGHUP for itself, and Rust
    // ignores SIGPIPE: none of that may reach the submission, whose own
    // handling of those signals is graded.
    let (_, report) = grade_one_check(&hostile("signals.sh"), &marker("signals"));
    let text = only_test_output(&report);
    // The standard signals, 1 to 31, are the low 31 bits of each mask.
    for field in ["SigBlk", "SigIgn"] {
        let mask = text
            .lines()
            .find_map(|line| {
                line.split_once(&format!("{field}:\\t"))
                    .map(|(_, hex)| hex.trim())
            })
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .unwrap_or_else(|| panic!("no {field} in the transcript:\n{text}"));
        assert_eq!(
            mask & 0x7fff_ffff,
            0,
            "{field} {mask:#x}: a standard signal was passed on"
        );
    }
}

#[test]
fn a_server_that_escapes_its_process_group_is_still_stopped() {
    let marker = marker("escape");
    let (run, report) = grade_one_check(&hostile("escape.py"), &marker);
    assert_eq!(run.code(), Some(1), "{}", run.explain());
    assert_eq!(report["score"], 0);
    assert!(
        only_test_output(&report).contains("did not receive"),
        "{report}"
    );
    assert_eq!(
        util::left_running(&marker),
        Vec::<String>::new(),
        "processes left behind"
    );
}

#[test]
fn a_server_that_floods_its_output_is_stopped_and_its_transcript_capped() {
    let marker = marker("flood");
    let (run, report) = grade_one_check(&hostile("flood.py"), &marker);
    assert_eq!(run.code(), Some(1), "{}", run.explain());
    let text = only_test_output(&report);
    assert!(text.contains("flooding"), "the transcript shows the flood");
    assert!(
        text.len() < 64 * 1024,
        "a capped report: {} bytes",
        text.len()
    );
    assert_eq!(
        util::left_running(&marker),
        Vec::<String>::new(),
        "processes left behind"
    );
}

#[test]
fn a_daemon_left_by_the_submission_is_gone_before_the_report_is_written() {
    let marker = marker("report");
    let out = std::env::temp_dir().join(format!("{marker}.json"));
    let _heavy = util::one_heavy_test_at_a_time();
    Run::new(
        util::grader()
            .arg("--server")
            .arg(hostile("report_daemon.py"))
            .args(["--check", "server/join", "--format", "json", "--out"])
            .arg(&out)
            .env("HOSTILE_MARKER", &marker),
    )
    .assert_code(1);
    let text = fs::read_to_string(&out).expect("the report");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(report["score"], 0, "the daemon rewrote the report: {text}");
    assert_eq!(report["tests"][0]["name"], "server/join", "{text}");
    assert_eq!(
        util::left_running(&marker),
        Vec::<String>::new(),
        "processes left behind"
    );
    fs::remove_file(&out).expect("remove the report");
}

#[test]
fn a_server_that_spins_without_a_readiness_line_fails_at_the_step_deadline() {
    let marker = marker("spin");
    let (run, report) = grade_one_check(&hostile("spin.py"), &marker);
    assert_eq!(run.code(), Some(1), "{}", run.explain());
    assert!(
        only_test_output(&report).contains("did not print its readiness line"),
        "{report}"
    );
    // One step's deadline (5 s), not the whole check's (40 s).
    assert!(run.seconds < 30.0, "took {:.1} s", run.seconds);
    assert_eq!(
        util::left_running(&marker),
        Vec::<String>::new(),
        "processes left behind"
    );
}

#[test]
fn ctrl_c_of_the_grader_stops_every_process_it_started() {
    let marker = marker("interrupt");
    let fifo = std::env::temp_dir().join(format!("{marker}.fifo"));
    let path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("a path");
    // SAFETY: `path` is a valid NUL-terminated string.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
    let _heavy = util::one_heavy_test_at_a_time();

    let grader = util::grader()
        .arg("--server")
        .arg(hostile("hang.py"))
        .args(["--check", "server/join"])
        .env("HOSTILE_MARKER", &marker)
        .env("HOSTILE_FIFO", &fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the grader");

    // Wait (with a deadline) until the hostile server says it started.
    let (started, receiver) = mpsc::channel();
    let fifo_path = fifo.clone();
    thread::spawn(move || {
        let mut line = String::new();
        let opened = File::open(&fifo_path).map(BufReader::new);
        let _ = opened.and_then(|mut reader| reader.read_line(&mut line));
        let _ = started.send(line);
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("the hostile server did not start");
    assert_eq!(line, "started\n");

    // SAFETY: kill takes no pointers; the grader is our child, not reaped.
    unsafe { libc::kill(grader.id() as i32, libc::SIGINT) };
    let (finished, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = finished.send(grader.wait_with_output());
    });
    let output = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("the grader did not stop after Ctrl-C")
        .expect("wait for the grader");
    let (status, stderr) = (output.status, String::from_utf8_lossy(&output.stderr));
    assert_eq!(status.code(), Some(128 + libc::SIGINT), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(
        util::left_running(&marker),
        Vec::<String>::new(),
        "processes left behind"
    );
    fs::remove_file(&fifo).expect("remove the FIFO");
}
