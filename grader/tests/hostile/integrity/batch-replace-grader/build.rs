//! Replaces the grader's executable (found as /proc/PID/exe of an ancestor,
//! or where it is known to be) with a script that exits with success. Only
//! files in the test's own folder are aimed at, so that it does no harm
//! even if it ran as root.

use std::fs;

fn main() {
    let fake = "#!/bin/sh\nexit 0\n";
    let mut targets = vec![String::from("@GRADER@")];
    let mut pid = std::process::id();
    for _ in 0..12 {
        let Some(parent) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok())
        else {
            break;
        };
        match fs::read_link(format!("/proc/{parent}/exe")) {
            Ok(exe) => targets.push(exe.to_string_lossy().into_owned()),
            Err(err) => println!("cargo:warning=/proc/{parent}/exe: {err}"),
        }
        pid = parent;
    }
    for target in targets.into_iter().filter(|t| t.starts_with("@TMP@/")) {
        let new = format!("{target}.new");
        let replaced = fs::write(&new, fake).and_then(|()| fs::rename(&new, &target));
        if let Err(err) = replaced.or_else(|_| fs::write(&target, fake)) {
            println!("cargo:warning=could not replace {target}: {err}");
        }
    }
}
