//! Forks until it cannot, each child waiting for ever, then says how many
//! it made and exits (its children stay). Not as root: nothing would stop
//! it (the test is about the grading user).

fn main() {
    // SAFETY: getuid takes nothing.
    if unsafe { libc::getuid() } == 0 {
        eprintln!("running as root: not forking");
        std::process::exit(1);
    }
    let mut made = 0u32;
    for _ in 0..5000 {
        // SAFETY: the child only waits for a signal, for ever.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            break;
        }
        if pid == 0 {
            loop {
                // SAFETY: pause takes nothing.
                unsafe { libc::pause() };
            }
        }
        made += 1;
    }
    eprintln!("forked {made} processes");
    std::process::exit(1);
}
