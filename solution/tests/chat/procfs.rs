//! What `/proc/PID` tells about a running process: its threads, its open
//! descriptors, the interest list of its epoll instance, its CPU time.

use std::fs;
use std::thread;

use crate::procs::IDLE_WINDOW;

/// The number of threads (the `Threads:` line of `/proc/PID/status`).
pub fn threads(pid: u32) -> usize {
    status_field(pid, "Threads:")
}

/// The peak resident memory, in KiB (`VmHWM:`).
pub fn peak_rss_kib(pid: u32) -> usize {
    status_field(pid, "VmHWM:")
}

fn status_field(pid: u32, name: &str) -> usize {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
}

/// Every open descriptor and what it refers to (the target of the
/// `/proc/PID/fd/N` link: `socket:[1234]`, `anon_inode:[eventpoll]`, ...).
pub fn descriptors(pid: u32) -> Vec<(i32, String)> {
    let mut fds: Vec<(i32, String)> = fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list /proc/PID/fd")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(entry.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}

/// The descriptors that are epoll instances.
pub fn epoll_fds(pid: u32) -> Vec<i32> {
    descriptors(pid)
        .into_iter()
        .filter(|(_, target)| target == "anon_inode:[eventpoll]")
        .map(|(fd, _)| fd)
        .collect()
}

/// The descriptors that are sockets.
pub fn socket_fds(pid: u32) -> Vec<i32> {
    descriptors(pid)
        .into_iter()
        .filter(|(_, target)| target.starts_with("socket:"))
        .map(|(fd, _)| fd)
        .collect()
}

/// The interest list of epoll instance `epfd` in process `pid`: each watched
/// descriptor with its event mask (the `tfd:` lines of
/// `/proc/PID/fdinfo/EPFD`).
pub fn interest_list(pid: u32, epfd: i32) -> Vec<(i32, u32)> {
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{epfd}")).expect("read fdinfo");
    info.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next()? != "tfd:" {
                return None;
            }
            let fd = words.next()?.parse().ok()?;
            if words.next()? != "events:" {
                return None;
            }
            let events = u32::from_str_radix(words.next()?, 16).ok()?;
            Some((fd, events))
        })
        .collect()
}

/// The one epoll instance of `pid` and its interest list; panics if there is
/// not exactly one.
pub fn the_interest_list(pid: u32) -> Vec<(i32, u32)> {
    let epolls = epoll_fds(pid);
    assert_eq!(
        epolls.len(),
        1,
        "one epoll instance, found {epolls:?}: {:?}",
        descriptors(pid)
    );
    interest_list(pid, epolls[0])
}

/// User plus system CPU time, in clock ticks (fields 14 and 15 of
/// `/proc/PID/stat`, counted after the command name, which may hold spaces).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    let after_name = &stat[stat.rfind(')').expect("a (comm) field") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name come state (field 3), ppid (4), ...: utime is field 14.
    let field = |n: usize| -> u64 { fields[n - 3].parse().expect("a number of ticks") };
    field(14) + field(15)
}

/// The CPU time, in milliseconds, that `pid` uses during `IDLE_WINDOW`
/// while the test does nothing: a measurement over a fixed time.
pub fn cpu_ms_while_idle(pid: u32) -> u64 {
    // SAFETY: sysconf takes no pointers.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let before = cpu_ticks(pid);
    thread::sleep(IDLE_WINDOW);
    let used = cpu_ticks(pid) - before;
    used * 1000 / ticks_per_second
}
