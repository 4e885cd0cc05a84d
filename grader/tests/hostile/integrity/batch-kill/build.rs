//! Kills the batch and every grader of it (the processes that name its
//! reports folder), and leaves a daemon behind.

use std::process::{Command, Stdio};

fn main() {
    let script = r#"for d in /proc/[0-9]*; do
  if tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q -e "@REPORTS@"; then
    kill -9 "${d#/proc/}" 2>/dev/null
  fi
done
while :; do sleep 1; done"#;
    let _ = Command::new("setsid")
        .args(["sh", "-c", script, "@MARK@"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
