//! Leaves a daemon behind, then kills the grader that grades this crate (an
//! ancestor whose command line has `--dir` and names the submissions'
//! folder; nothing else is aimed at).

use std::fs;
use std::process::{Command, Stdio};

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let _ = Command::new("setsid")
        .args(["sh", "-c", "while :; do sleep 1; done", "@MARK@"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut pid = std::process::id();
    for _ in 0..12 {
        let Some(parent) = parent_of(pid) else {
            break;
        };
        let cmdline = fs::read(format!("/proc/{parent}/cmdline")).unwrap_or_default();
        let words = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if words.contains("--dir ") && words.contains("@SUBMISSIONS@") {
            let _ = Command::new("kill").args(["-9", &parent.to_string()]).status();
            return;
        }
        pid = parent;
    }
}
