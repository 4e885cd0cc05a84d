//! What `/proc` tells about a process under test: threads, descriptors,
//! which of them are TCP sockets, the interest lists of its epoll instances,
//! CPU time. What the lab's tests and the grader observe of a program
//! beyond the bytes it sends.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::thread;
use std::time::{Duration, Instant};

/// How long a program with nothing to do is watched for CPU use: long
/// enough that a busy loop shows as hundreds of milliseconds, short enough
/// to cost little. Both the lab's tests and the grader measure over it.
pub const IDLE_WINDOW: Duration = Duration::from_millis(500);

/// The most CPU a process may use in IDLE_WINDOW and count as idle. A
/// process that polls or spins uses far more, even on a loaded machine.
pub const IDLE_CPU_MS: u64 = 60;

/// The number of threads of `pid`.
pub fn threads(pid: u32) -> io::Result<usize> {
    status_number(pid, "Threads:")
}

/// The resident memory of `pid` now, in KiB.
pub fn rss_kib(pid: u32) -> io::Result<usize> {
    status_number(pid, "VmRSS:")
}

/// The peak resident memory of `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> io::Result<usize> {
    status_number(pid, "VmHWM:")
}

fn status_number(pid: u32, field: &str) -> io::Result<usize> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no {field} in /proc/{pid}/status")))
}

/// Every open descriptor of `pid` with what it refers to (`socket:[1234]`,
/// `anon_inode:[eventpoll]`, `/dev/null`, ...), in order.
pub fn descriptors(pid: u32) -> io::Result<Vec<(i32, String)>> {
    let mut fds = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let entry = entry?;
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // A descriptor closed since the listing has no link any more.
        if let Ok(target) = fs::read_link(entry.path()) {
            fds.push((fd, target.to_string_lossy().into_owned()));
        }
    }
    fds.sort();
    Ok(fds)
}

/// The descriptors of `pid` that are epoll instances.
pub fn epoll_fds(pid: u32) -> io::Result<Vec<i32>> {
    Ok(descriptors(pid)?
        .into_iter()
        .filter(|(_, target)| target == "anon_inode:[eventpoll]")
        .map(|(fd, _)| fd)
        .collect())
}

/// The descriptors of `pid` that are TCP sockets (a listener or a
/// connection), as opposed to Unix sockets, pipes or files.
pub fn tcp_socket_fds(pid: u32) -> io::Result<Vec<i32>> {
    let tcp = tcp_inodes()?;
    Ok(descriptors(pid)?
        .into_iter()
        .filter_map(|(fd, target)| {
            let inode = target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()?;
            tcp.contains(&inode).then_some(fd)
        })
        .collect())
}

/// The inodes of every TCP socket on the machine (IPv4 and IPv6).
fn tcp_inodes() -> io::Result<HashSet<u64>> {
    Ok(tcp_sockets()?
        .into_iter()
        .map(|socket| socket.inode)
        .collect())
}

/// The ports of the peers whose connection to `port` (on this machine) a
/// process has accepted. A connection still waiting in the listener's
/// backlog has no socket file yet, so the kernel lists it with inode 0;
/// accept gives it one.
pub fn accepted_on(port: u16) -> io::Result<HashSet<u16>> {
    Ok(tcp_sockets()?
        .into_iter()
        .filter(|socket| socket.local_port == port && socket.inode != 0)
        .map(|socket| socket.remote_port)
        .collect())
}

/// A TCP socket of this network namespace, as `/proc/net/tcp` lists it.
#[derive(Debug, Clone, Copy)]
pub struct TcpSocket {
    pub local_port: u16,
    pub remote_port: u16,
    /// Bytes in its send queue.
    pub send_queue: u64,
    /// 0 for a connection no process has accepted yet.
    pub inode: u64,
}

/// Every TCP socket of this network namespace (IPv4 and IPv6).
pub fn tcp_sockets() -> io::Result<Vec<TcpSocket>> {
    let mut sockets = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        // After the header: `sl local rem st tx_queue:rx_queue ... inode`,
        // where an address is `HEXIP:HEXPORT`, queues are hexadecimal and
        // the inode is the tenth column.
        sockets.extend(text.lines().skip(1).filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            let port = |address: &str| u16::from_str_radix(address.rsplit_once(':')?.1, 16).ok();
            let (send_queue, _) = columns.get(4)?.split_once(':')?;
            Some(TcpSocket {
                local_port: port(columns.get(1)?)?,
                remote_port: port(columns.get(2)?)?,
                send_queue: u64::from_str_radix(send_queue, 16).ok()?,
                inode: columns.get(9)?.parse().ok()?,
            })
        }));
    }
    Ok(sockets)
}

/// Waits until `condition` holds, looking again every few milliseconds
/// until `until`: for what `/proc` shows, which sends no event to wait
/// for. Returns whether it came to hold.
pub fn eventually(until: Instant, mut condition: impl FnMut() -> bool) -> bool {
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The interest list of epoll instance `epfd` of `pid`: each watched
/// descriptor with its event mask (the `tfd:` lines of its fdinfo).
pub fn interest_list(pid: u32, epfd: i32) -> io::Result<Vec<(i32, u32)>> {
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{epfd}"))?;
    Ok(info
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next()? != "tfd:" {
                return None;
            }
            let fd = words.next()?.parse().ok()?;
            if words.next()? != "events:" {
                return None;
            }
            Some((fd, u32::from_str_radix(words.next()?, 16).ok()?))
        })
        .collect())
}

/// The descriptors watched by any epoll instance of `pid`.
pub fn watched_fds(pid: u32) -> io::Result<HashSet<i32>> {
    let mut watched = HashSet::new();
    for epfd in epoll_fds(pid)? {
        watched.extend(interest_list(pid, epfd)?.into_iter().map(|(fd, _)| fd));
    }
    Ok(watched)
}

/// The descriptors that an epoll instance of `pid` watches for room to
/// write (EPOLLOUT), sorted.
pub fn watched_for_output(pid: u32) -> io::Result<Vec<i32>> {
    watched_for_output_by(pid, &epoll_fds(pid)?)
}

/// [`watched_for_output`] by the epoll instances `epfds` of `pid`, found
/// once (listing every descriptor of a process is the costly part).
pub fn watched_for_output_by(pid: u32, epfds: &[i32]) -> io::Result<Vec<i32>> {
    let mut fds = Vec::new();
    for &epfd in epfds {
        fds.extend(
            interest_list(pid, epfd)?
                .into_iter()
                .filter(|&(_, events)| events & libc::EPOLLOUT as u32 != 0)
                .map(|(fd, _)| fd),
        );
    }
    fds.sort_unstable();
    Ok(fds)
}

/// Whether `pid` has exited: it is gone, or a zombie waiting to be reaped.
/// Reading this reaps nothing, so the exit status stays available.
pub fn has_exited(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|at| stat.get(at + 2..at + 3))
            .is_none_or(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// User plus system CPU time of `pid` (all its threads), in milliseconds.
pub fn cpu_ms(pid: u32) -> io::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields are counted after the command name, which may hold spaces.
    let after_name = stat
        .rfind(')')
        .and_then(|at| stat.get(at + 2..))
        .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name come state (field 3), ppid (4), ...: utime is field 14.
    let field = |n: usize| -> io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("malformed /proc/PID/stat"))
    };
    // SAFETY: sysconf takes no pointers.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok((field(14)? + field(15)?) * 1000 / ticks_per_second)
}

/// The CPU time `pid` uses during `window` while the grader sends it
/// nothing: a measurement over a fixed time, not a way to wait for an event.
pub fn cpu_ms_while_idle(pid: u32, window: Duration) -> io::Result<u64> {
    let before = cpu_ms(pid)?;
    thread::sleep(window);
    Ok(cpu_ms(pid)?.saturating_sub(before))
}

/// How long, in milliseconds, `pid` is busy during `window` while the
/// grader sends it nothing: running on a CPU *or waiting for one* (the
/// first two fields of each thread's `/proc/PID/task/TID/schedstat`). A
/// process that spins is busy the whole window however loaded the machine
/// is, where its CPU time alone shrinks with its share of the CPUs; an idle
/// one is busy for none of it. Falls back to CPU time without schedstat.
/// A measurement over a fixed time, not a way to wait for an event.
pub fn busy_ms_while_idle(pid: u32, window: Duration) -> io::Result<u64> {
    let Ok(before) = busy_ns(pid) else {
        return cpu_ms_while_idle(pid, window);
    };
    thread::sleep(window);
    Ok(busy_ns(pid)?.saturating_sub(before) / 1_000_000)
}

fn busy_ns(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = fs::read_to_string(task?.path().join("schedstat"))?;
        let mut fields = stat
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        total += fields.next().unwrap_or(0) + fields.next().unwrap_or(0);
    }
    Ok(total)
}
