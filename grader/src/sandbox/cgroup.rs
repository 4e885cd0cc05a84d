//! Control groups for the submission's processes, where the grader may make
//! them: a total memory limit and a total process limit for everything the
//! submission runs, which per-process resource limits cannot give (a
//! program under a 2 GiB `RLIMIT_AS` forks ten children of 2 GiB each), and
//! a way to kill the lot at once.
//!
//! Used only when the grader runs as root and drops the submission's
//! processes to a grading user. The grader's own process is never in these
//! groups; a process joins its group itself, between fork and exec, before
//! it gives up root.
//!
//! Both layouts are handled, because machines differ: cgroup v2 (one
//! hierarchy; memory and pids when its controllers are available) and, for
//! what v2 lacks, the v1 `memory` and `pids` hierarchies (a hybrid layout
//! mounts both). When neither is writable, nothing is made and the report
//! says that only the per-process limits applied.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// What a group enforces, per hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hierarchy {
    /// cgroup v2, with the given controllers enabled for our groups.
    V2 { memory: bool, pids: bool },
    /// A cgroup v1 `memory` hierarchy.
    V1Memory,
    /// A cgroup v1 `pids` hierarchy.
    V1Pids,
}

/// Where the grader may make groups: one directory per hierarchy, the one
/// the grader itself is in.
#[derive(Debug)]
pub struct Cgroups {
    parents: Vec<(Hierarchy, PathBuf)>,
    /// Groups made so far, by (memory bytes, processes).
    made: Mutex<HashMap<(u64, u64), Group>>,
    /// Names the groups of this grader apart from another's.
    prefix: String,
    /// Why nothing could be made, when nothing can.
    unavailable: Option<String>,
}

/// One group in each hierarchy, for processes with the same limits.
#[derive(Debug, Clone)]
struct Group {
    dirs: Vec<(Hierarchy, PathBuf)>,
    /// The `cgroup.procs` file of each: a process joins by writing to them.
    procs: Vec<CString>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cgroups {
    /// Finds where this process may make groups. Never fails: what cannot
    /// be used is left out, and [`Cgroups::describe`] says so.
    pub fn discover() -> Cgroups {
        let prefix = format!("chat-grader-{}", std::process::id());
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut parents = Vec::new();
        let mut why = Vec::new();
        let v2 = mount_point(&mountinfo, "cgroup2", None)
            .and_then(|(root, point)| Some(join(&point, &root, own_path(&own, None)?)));
        let mut v2_memory = false;
        let mut v2_pids = false;
        match v2 {
            Some(dir) if writable(&dir) => {
                let available =
                    fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
                let has = |name: &str| available.split_whitespace().any(|c| c == name);
                // Our groups get a controller only if the parent hands it on;
                // enabling it fails when the parent holds processes itself
                // (cgroup v2's "no internal processes" rule), which is fine.
                let mut enabled =
                    fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
                for controller in ["memory", "pids"] {
                    if has(controller) && !enabled.split_whitespace().any(|c| c == controller) {
                        let _ =
                            fs::write(dir.join("cgroup.subtree_control"), format!("+{controller}"));
                        enabled = fs::read_to_string(dir.join("cgroup.subtree_control"))
                            .unwrap_or_default();
                    }
                }
                v2_memory = enabled.split_whitespace().any(|c| c == "memory");
                v2_pids = enabled.split_whitespace().any(|c| c == "pids");
                parents.push((
                    Hierarchy::V2 {
                        memory: v2_memory,
                        pids: v2_pids,
                    },
                    dir,
                ));
            }
            Some(dir) => why.push(format!("cgroup v2 at {} is not writable", dir.display())),
            None => why.push("no cgroup v2 hierarchy".to_owned()),
        }
        for (controller, hierarchy, has_it) in [
            ("memory", Hierarchy::V1Memory, v2_memory),
            ("pids", Hierarchy::V1Pids, v2_pids),
        ] {
            if has_it {
                continue;
            }
            let dir =
                mount_point(&mountinfo, "cgroup", Some(controller)).and_then(|(root, point)| {
                    Some(join(&point, &root, own_path(&own, Some(controller))?))
                });
            match dir {
                Some(dir) if writable(&dir) => parents.push((hierarchy, dir)),
                Some(dir) => why.push(format!(
                    "the {controller} cgroup {} is not writable",
                    dir.display()
                )),
                None => why.push(format!("no {controller} cgroup")),
            }
        }
        let unavailable = parents.is_empty().then(|| why.join("; "));
        Cgroups {
            parents,
            made: Mutex::new(HashMap::new()),
            prefix,
            unavailable,
        }
    }

    /// The `cgroup.procs` files a process with these limits joins, making
    /// its groups first if need be.
    pub fn procs_files(&self, memory_bytes: u64, processes: u64) -> io::Result<Vec<CString>> {
        if self.parents.is_empty() {
            return Ok(Vec::new());
        }
        let mut made = lock(&self.made);
        if let Some(group) = made.get(&(memory_bytes, processes)) {
            return Ok(group.procs.clone());
        }
        let name = format!("{}-{}", self.prefix, made.len());
        let mut group = Group {
            dirs: Vec::new(),
            procs: Vec::new(),
        };
        for (hierarchy, parent) in &self.parents {
            let dir = parent.join(&name);
            fs::create_dir(&dir)
                .map_err(|err| context(err, &format!("create the cgroup {}", dir.display())))?;
            group.dirs.push((*hierarchy, dir.clone()));
            let mut limits: Vec<(&str, String)> = Vec::new();
            match *hierarchy {
                Hierarchy::V2 { memory, pids } => {
                    if memory {
                        limits.push(("memory.max", memory_bytes.to_string()));
                        limits.push(("memory.swap.max", "0".to_owned()));
                    }
                    if pids {
                        limits.push(("pids.max", processes.to_string()));
                    }
                }
                Hierarchy::V1Memory => {
                    limits.push(("memory.limit_in_bytes", memory_bytes.to_string()));
                }
                Hierarchy::V1Pids => limits.push(("pids.max", processes.to_string())),
            }
            for (file, value) in &limits {
                let path = dir.join(file);
                // memory.swap.max is absent where there is no swap.
                if *file == "memory.swap.max" && !path.exists() {
                    continue;
                }
                fs::write(&path, value)
                    .map_err(|err| context(err, &format!("write {value} to {}", path.display())))?;
            }
            let procs = dir.join("cgroup.procs");
            group.procs.push(
                CString::new(procs.as_os_str().as_bytes())
                    .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?,
            );
        }
        let procs = group.procs.clone();
        made.insert((memory_bytes, processes), group);
        Ok(procs)
    }

    /// Which limits the groups enforce, for the report: "memory and
    /// processes (cgroup v1)", or why there are none.
    pub fn describe(&self) -> String {
        if let Some(why) = &self.unavailable {
            return format!("no cgroup ({why})");
        }
        let mut memory = None;
        let mut pids = None;
        let mut v2 = false;
        for (hierarchy, _) in &self.parents {
            match *hierarchy {
                Hierarchy::V2 { memory: m, pids: p } => {
                    v2 = true;
                    if m {
                        memory = Some("v2");
                    }
                    if p {
                        pids = Some("v2");
                    }
                }
                Hierarchy::V1Memory => memory = Some("v1"),
                Hierarchy::V1Pids => pids = Some("v1"),
            }
        }
        let mut parts = Vec::new();
        match memory {
            Some(version) => parts.push(format!("total memory (cgroup {version})")),
            None => parts.push("no total memory limit".to_owned()),
        }
        match pids {
            Some(version) => parts.push(format!("total processes (cgroup {version})")),
            None => parts.push("no total process limit from a cgroup".to_owned()),
        }
        if v2 {
            parts.push("killed as a group (cgroup v2)".to_owned());
        }
        parts.join(", ")
    }

    /// Kills every process in every group made, and removes the groups.
    /// Processes killed but not yet reaped keep a group busy: removing it
    /// is then left to [`Cgroups::remove`], after the grader reaps them.
    pub fn kill_all(&self) {
        let made = lock(&self.made);
        for group in made.values() {
            for (hierarchy, dir) in &group.dirs {
                if matches!(hierarchy, Hierarchy::V2 { .. }) {
                    // cgroup.kill (Linux 5.14) kills every process at once,
                    // including those forked while it runs.
                    let _ = fs::write(dir.join("cgroup.kill"), "1");
                }
                // Then by process, for v1 and older v2: a bounded number of
                // rounds, as a process may fork while it is being killed (the
                // process limits bound how many there can be).
                for _ in 0..64 {
                    let pids = members(dir);
                    if pids.is_empty() {
                        break;
                    }
                    for pid in pids {
                        // SAFETY: kill takes no pointers.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
        }
    }

    /// Removes the groups made (they must be empty: call after the grader
    /// reaped their processes). A group that cannot be removed is left.
    pub fn remove(&self) {
        let mut made = lock(&self.made);
        for (_, group) in made.drain() {
            for (_, dir) in group.dirs {
                let _ = fs::remove_dir(&dir);
            }
        }
    }
}

/// The processes in the group at `dir`.
fn members(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

fn context(err: io::Error, what: &str) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// Whether this process may make a group in `dir`.
fn writable(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `path` is a NUL-terminated string that lives across the call.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

/// The mount point of a cgroup hierarchy and the cgroup it shows as its
/// root, from `/proc/self/mountinfo`: `fstype` is `cgroup2`, or `cgroup`
/// with `controller` among its options.
fn mount_point(
    mountinfo: &str,
    fstype: &str,
    controller: Option<&str>,
) -> Option<(String, PathBuf)> {
    mountinfo.lines().find_map(|line| {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
        let (before, after) = line.split_once(" - ")?;
        let fields: Vec<&str> = before.split(' ').collect();
        let mut after = after.split(' ');
        if after.next()? != fstype {
            return None;
        }
        let super_options = after.nth(1).unwrap_or("");
        if let Some(controller) = controller
            && !super_options.split(',').any(|option| option == controller)
        {
            return None;
        }
        Some((
            fields.get(3)?.to_string(),
            PathBuf::from(unescape(fields.get(4)?)),
        ))
    })
}

/// Mountinfo escapes spaces and a few other bytes as `\NNN` (octal).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 8).ok());
        if bytes[i] == b'\\'
            && let Some(value) = octal
        {
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup in a hierarchy, from `/proc/self/cgroup`: the
/// v2 line (`0::PATH`) when `controller` is `None`, else the v1 line that
/// names it.
fn own_path(cgroup: &str, controller: Option<&str>) -> Option<String> {
    cgroup.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let wanted = match controller {
            None => id == "0" && controllers.is_empty(),
            Some(name) => controllers.split(',').any(|c| c == name),
        };
        wanted.then(|| path.to_owned())
    })
}

/// The directory of cgroup `path` in a hierarchy mounted at `point`, whose
/// root is the cgroup `root` (a container often sees its own cgroup as the
/// root of the mount).
fn join(point: &Path, root: &str, path: String) -> PathBuf {
    let relative = match path.strip_prefix(root) {
        Some(rest) if root != "/" => rest.to_owned(),
        _ => path,
    };
    point.join(relative.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const CGROUP: &str = "\
8:pids:/
4:memory:/process_api/0fe09944
1:cpu:/
0::/
";

    #[test]
    fn a_hybrid_layout_gives_the_v2_and_v1_directories_of_this_process() {
        let (root, point) = mount_point(MOUNTINFO, "cgroup2", None).expect("v2");
        assert_eq!(
            join(&point, &root, own_path(CGROUP, None).expect("v2 path")),
            Path::new("/sys/fs/cgroup/unified")
        );
        let (root, point) = mount_point(MOUNTINFO, "cgroup", Some("memory")).expect("memory");
        assert_eq!(
            join(
                &point,
                &root,
                own_path(CGROUP, Some("memory")).expect("path")
            ),
            Path::new("/sys/fs/cgroup/memory/process_api/0fe09944")
        );
        assert!(mount_point(MOUNTINFO, "cgroup", Some("cpu")).is_none());
    }

    #[test]
    fn a_container_that_sees_its_cgroup_as_the_mount_root_is_not_nested_twice() {
        let mountinfo = "50 40 0:30 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let (root, point) = mount_point(mountinfo, "cgroup2", None).expect("v2");
        assert_eq!(
            join(&point, &root, "/docker/abc/sub".to_owned()),
            Path::new("/sys/fs/cgroup/sub")
        );
        assert_eq!(
            join(&point, &root, "/".to_owned()),
            Path::new("/sys/fs/cgroup")
        );
    }

    #[test]
    fn escaped_mount_points_are_read_back() {
        assert_eq!(unescape(r"/mnt/a\040b"), "/mnt/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
