//! Forks four children that each fill 1.1 GiB: 4.4 GiB in all, past a
//! 2 GiB limit that holds per process only. One server of all the checks
//! does it (the first to make the lock file), and never as root, so that a
//! machine without a memory cgroup is not swamped.

use std::fs::OpenOptions;

fn main() {
    // SAFETY: getuid takes nothing.
    if unsafe { libc::getuid() } == 0 {
        eprintln!("running as root: not filling memory");
        std::process::exit(1);
    }
    let lock = std::env::temp_dir().join("chat-integrity-memory-@MARK@");
    if OpenOptions::new().write(true).create_new(true).open(&lock).is_err() {
        std::process::exit(1);
    }
    for _ in 0..4 {
        // SAFETY: the child fills memory and waits; it returns into nothing
        // shared with the parent.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let mut block = vec![0u8; 1100 << 20];
            for at in (0..block.len()).step_by(4096) {
                block[at] = 1;
            }
            eprintln!("filled {} MiB", block.len() >> 20);
            loop {
                // SAFETY: pause takes nothing.
                unsafe { libc::pause() };
            }
        }
    }
    loop {
        // SAFETY: pause takes nothing.
        unsafe { libc::pause() };
    }
}
