//! What a server and every process it started use, summed: lab 2's room is
//! a parent with one helper process per client, and its cost is theirs too.
//!
//! One pass over `/proc` reads every process's `stat` (its parent and its
//! CPU time); the server's tree is the server and every process whose chain
//! of parents leads to it. Then each member's `status` (resident memory now
//! and at its peak) and `smaps_rollup` (proportional memory) are read and
//! summed. Walking `/proc` sees every process, where
//! `/proc/PID/task/TID/children` may miss one that forks or exits meanwhile.
//!
//! The parsing and the summing are plain functions of the files' text, so
//! the tests feed them made-up trees.

use std::collections::HashMap;
use std::fs;
use std::io;

/// What one process's `/proc/PID/stat` says that the bench uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    pub ppid: u32,
    /// User plus system time of the process and of the children it has
    /// waited for (utime + stime + cutime + cstime), in clock ticks: a
    /// helper that exits and is reaped moves its time into its parent's
    /// figure, and so stays counted.
    pub cpu_ticks: u64,
}

/// Parses `/proc/PID/stat`. The command name, in parentheses, may hold
/// spaces and parentheses itself: fields are counted after the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let fields: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
    // Field 3 is the state, 4 the parent; utime, stime, cutime and cstime
    // are fields 14 to 17 (proc(5)).
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(Stat {
        pid,
        ppid: u32::try_from(field(4)?).ok()?,
        cpu_ticks: field(14)? + field(15)? + field(16)? + field(17)?,
    })
}

/// `root` and every process descended from it, among `stats`, parents
/// before their children. Empty when `root` is not among them (it exited).
pub fn tree_of(root: u32, stats: &[Stat]) -> Vec<Stat> {
    let mut children: HashMap<u32, Vec<&Stat>> = HashMap::new();
    let mut found = None;
    for stat in stats {
        if stat.pid == root {
            found = Some(stat);
        } else {
            children.entry(stat.ppid).or_default().push(stat);
        }
    }
    let Some(root) = found else {
        return Vec::new();
    };
    let mut tree = vec![*root];
    let mut next = 0;
    while next < tree.len() {
        if let Some(kids) = children.remove(&tree[next].pid) {
            tree.extend(kids.into_iter().copied());
        }
        next += 1;
    }
    tree
}

/// A number of KiB in a `/proc` file of `Name:   1234 kB` lines.
pub fn kib_field(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

/// One member's memory, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident now (VmRSS): pages it shares with others count in full.
    pub rss: u64,
    /// Resident at its peak (VmHWM).
    pub peak_rss: u64,
    /// Proportional (Pss of smaps_rollup): a page shared by k processes
    /// counts 1/k in each, so the sum over a tree counts it once. `None`
    /// where the kernel does not say.
    pub pss: Option<u64>,
}

/// What a server's tree uses, summed over its members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeUse {
    /// How many processes: 1 for a server that starts none.
    pub processes: usize,
    pub cpu_ms: u64,
    pub rss_kib: u64,
    /// The sum of every member's own peak: the most the tree can have held
    /// at once (the peaks need not coincide).
    pub peak_rss_kib: u64,
    /// `None` if any member's PSS is unknown.
    pub pss_kib: Option<u64>,
}

/// Sums a tree: its members' stats and the memory of each (`None`: it
/// exited between the two reads, and counts no memory).
pub fn sum(members: &[(Stat, Option<Memory>)], ticks_per_second: u64) -> TreeUse {
    let ticks: u64 = members.iter().map(|(stat, _)| stat.cpu_ticks).sum();
    let memory = members.iter().filter_map(|(_, memory)| *memory);
    TreeUse {
        processes: members.len(),
        cpu_ms: ticks * 1000 / ticks_per_second.max(1),
        rss_kib: memory.clone().map(|m| m.rss).sum(),
        peak_rss_kib: memory.clone().map(|m| m.peak_rss).sum(),
        pss_kib: memory.map(|m| m.pss).sum(),
    }
}

/// Every process's stat, from `/proc`. Processes that exit during the
/// walk are skipped.
fn all_stats() -> io::Result<Vec<Stat>> {
    let mut stats = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let name = entry?.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(stat) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            stats.push(stat);
        }
    }
    Ok(stats)
}

/// One live process's memory; `None` if it has gone (or is a zombie, with
/// no memory left to tell).
fn memory(pid: u32) -> Option<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let pss = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|rollup| kib_field(&rollup, "Pss"));
    Some(Memory {
        rss: kib_field(&status, "VmRSS")?,
        peak_rss: kib_field(&status, "VmHWM")?,
        pss,
    })
}

fn ticks_per_second() -> u64 {
    // SAFETY: sysconf takes no pointers.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64
}

/// The CPU time of `root`'s tree, in milliseconds (no memory read: cheap
/// enough to take just before and after a measured run).
pub fn cpu_ms(root: u32) -> io::Result<u64> {
    let tree = tree_of(root, &all_stats()?);
    if tree.is_empty() {
        return Err(io::Error::other(format!("process {root} is gone")));
    }
    let members: Vec<_> = tree.into_iter().map(|stat| (stat, None)).collect();
    Ok(sum(&members, ticks_per_second()).cpu_ms)
}

/// What `root`'s tree uses now: processes, CPU time, memory.
pub fn usage(root: u32) -> io::Result<TreeUse> {
    let tree = tree_of(root, &all_stats()?);
    if tree.is_empty() {
        return Err(io::Error::other(format!("process {root} is gone")));
    }
    let members: Vec<_> = tree
        .into_iter()
        .map(|stat| (stat, memory(stat.pid)))
        .collect();
    Ok(sum(&members, ticks_per_second()))
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    fn stat(pid: u32, ppid: u32, cpu_ticks: u64) -> Stat {
        Stat {
            pid,
            ppid,
            cpu_ticks,
        }
    }

    #[test]
    fn a_stat_line_gives_the_parent_and_all_four_cpu_times() {
        // A name with a space and a `)`, as a process may call itself.
        let line = "4242 (room) helper) S 4200 4200 4200 0 -1 4194560 100 0 0 0 \
                    7 3 20 10 20 0 1 0 12345 4096 200 18446744073709551615";
        assert_eq!(parse_stat(line), Some(stat(4242, 4200, 7 + 3 + 20 + 10)));
        assert_eq!(parse_stat("4242 (cut) S 1"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn the_tree_is_the_root_and_every_descendant_and_nothing_else() {
        // 10 -> 11 -> 13, 10 -> 12; 20 is a stranger, 1 the root's parent.
        let stats = [
            stat(1, 0, 1),
            stat(13, 11, 1),
            stat(10, 1, 1),
            stat(20, 1, 1),
            stat(11, 10, 1),
            stat(12, 10, 1),
        ];
        let mut pids: Vec<u32> = tree_of(10, &stats).iter().map(|s| s.pid).collect();
        assert_eq!(pids[0], 10, "the root first: {pids:?}");
        pids.sort_unstable();
        assert_eq!(pids, [10, 11, 12, 13]);
        assert_eq!(tree_of(13, &stats), [stat(13, 11, 1)]);
        assert!(tree_of(99, &stats).is_empty());
    }

    #[test]
    fn kib_fields_are_found_by_their_whole_name() {
        let status = "Name:\troom\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(kib_field(status, "VmRSS"), Some(1024));
        assert_eq!(kib_field(status, "VmHWM"), Some(2048));
        let rollup = "Rss:  300 kB\nPss:  120 kB\nPss_Anon:  80 kB\n";
        assert_eq!(kib_field(rollup, "Pss"), Some(120));
        assert_eq!(kib_field(rollup, "Pss_Dirty"), None);
    }

    #[test]
    fn a_tree_sums_every_members_cpu_and_memory() {
        let memory = |rss, pss| {
            Some(Memory {
                rss,
                peak_rss: rss * 2,
                pss,
            })
        };
        let members = [
            (stat(10, 1, 100), memory(4_000, Some(3_000))),
            (stat(11, 10, 50), memory(1_000, Some(200))),
            (stat(12, 10, 50), memory(1_000, Some(200))),
            // Exited between the reads: its CPU counts, no memory.
            (stat(13, 10, 10), None),
        ];
        assert_eq!(
            sum(&members, 100),
            TreeUse {
                processes: 4,
                cpu_ms: 2_100,
                rss_kib: 6_000,
                peak_rss_kib: 12_000,
                pss_kib: Some(3_400),
            }
        );
        // One member without a PSS: the sum is unknown, not too small.
        let members = [
            (stat(10, 1, 0), memory(4_000, Some(3_000))),
            (stat(11, 10, 0), memory(1_000, None)),
        ];
        assert_eq!(sum(&members, 100).pss_kib, None);
    }

    #[test]
    fn the_tree_of_this_test_holds_the_children_it_started() {
        // `cat` with its input open waits until it closes: the children are
        // alive, with this process as their parent, from spawn on.
        let mut children: Vec<_> = (0..2)
            .map(|_| {
                Command::new("cat")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("start cat")
            })
            .collect();
        let me = std::process::id();
        let pids: Vec<u32> = tree_of(me, &all_stats().expect("read /proc"))
            .iter()
            .map(|s| s.pid)
            .collect();
        let used = usage(me).expect("this process's tree");
        for child in &mut children {
            drop(child.stdin.take());
            child.wait().expect("cat ends");
        }
        assert_eq!(pids.first(), Some(&me), "{pids:?}");
        for child in &children {
            assert!(pids.contains(&child.id()), "{} not in {pids:?}", child.id());
        }
        assert!(used.processes >= 3, "{used:?}");
        assert!(
            used.rss_kib > 0 && used.peak_rss_kib >= used.rss_kib,
            "{used:?}"
        );
    }
}
