//! The grading user: when the grader runs as root, every process of the
//! submission (its build with cargo, build scripts and proc macros
//! included, and its server, client and tests) runs as an unprivileged
//! user instead, the way Submitty, codejail and Gradescope's own advice run
//! untrusted code.
//!
//! As another user, the submission cannot read what only root may read (the
//! kit, the reference solution, `/proc/PID/exe` of the grader and of the
//! reference peers), cannot signal, stop or trace the grader, cannot write
//! the report or the scripts that handle it, and is held by the per-user
//! process limit, which root ignores.
//!
//! Each grading run gets a folder of its own, made by root and only
//! traversable by others, in which the user gets a home and whatever
//! folders the grader hands it (the copy of the crate, a build folder).
//! Root never writes into a folder the user owns once the user's processes
//! have run: the user could have put a symbolic link there.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use super::cgroup::Cgroups;

/// The user the grader runs submissions as when it runs as root and no
/// `--user` is given, if that user exists. The Gradescope set-up makes it.
pub const DEFAULT_USER: &str = "chatgrader";

/// A user of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Looks `name` up in the user database; `None` when there is no such user.
pub fn lookup(name: &str) -> io::Result<Option<Account>> {
    let c_name =
        CString::new(name).map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
    // SAFETY: an all-zero passwd is a valid value for getpwnam_r to fill.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: the name is
    // NUL-terminated, `entry` and `found` are writable, and `buffer` is
    // writable for the length passed.
    let ret = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    if found.is_null() {
        return Ok(None);
    }
    Ok(Some(Account {
        name: name.to_owned(),
        uid: entry.pw_uid,
        gid: entry.pw_gid,
    }))
}

/// Whether this process runs as root (and so must not run student code as
/// itself).
pub fn is_root() -> bool {
    // SAFETY: geteuid takes nothing and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Everything the grader needs to run a submission's processes as the
/// grading user.
#[derive(Debug)]
pub struct RunAs {
    pub account: Account,
    /// The cargo the user runs (an absolute path).
    pub cargo: PathBuf,
    /// This run's folder: root's, mode 0711.
    pub work: PathBuf,
    /// The user's home in `work`.
    pub home: PathBuf,
    /// The environment of the user's processes (what a command sets
    /// itself comes on top).
    env: Vec<(OsString, OsString)>,
    pub cgroups: Cgroups,
}

impl RunAs {
    /// Prepares to run processes as `account`: this run's folder and the
    /// user's home in it, the environment (the toolchain of `cargo`, which
    /// the user must be able to run, and `cargo_home`, where cargo finds
    /// the registry; a fresh one in the home when `None`), and the
    /// control groups where the machine allows them.
    pub fn new(account: Account, cargo: &Path, cargo_home: Option<&Path>) -> io::Result<RunAs> {
        if account.uid == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is root: the grading user must be an unprivileged one",
                    account.name
                ),
            ));
        }
        let work = private_dir(&std::env::temp_dir())?;
        let home = work.join("home");
        let run_as = RunAs {
            env: environment(&account, &home, cargo, cargo_home),
            cargo: cargo.to_path_buf(),
            home,
            work,
            account,
            cgroups: Cgroups::discover(),
        };
        if let Err(err) = run_as.user_dir("home") {
            run_as.remove_work();
            return Err(err);
        }
        Ok(run_as)
    }

    /// Makes `name` in this run's folder, owned by the user and private to
    /// it.
    pub fn user_dir(&self, name: &str) -> io::Result<PathBuf> {
        let dir = self.work.join(name);
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|err| with_path(err, "create", &dir))?;
        self.give(&dir)?;
        Ok(dir)
    }

    /// Gives `path` to the user: root made it, in this run's folder, and
    /// the user's processes have not run in it yet. Symbolic links are
    /// changed themselves, never followed.
    pub fn give(&self, path: &Path) -> io::Result<()> {
        std::os::unix::fs::lchown(path, Some(self.account.uid), Some(self.account.gid))
            .map_err(|err| with_path(err, "change the owner of", path))?;
        if fs::symlink_metadata(path)?.is_dir() {
            for entry in fs::read_dir(path)? {
                self.give(&entry?.path())?;
            }
        }
        Ok(())
    }

    /// Whether the user owns `path` (a build folder it must write).
    pub fn owns(&self, path: &Path) -> bool {
        fs::symlink_metadata(path).is_ok_and(|meta| meta.uid() == self.account.uid)
    }

    /// Sets up `command` to run as the user would: its environment, and
    /// `/` as the working directory unless one is set. Not the home: cargo
    /// reads `.cargo/config.toml` in every folder above the one it runs in,
    /// and every folder above the home (`/tmp`, say) may be one where
    /// another grading's code, as the same user, left one.
    pub(super) fn prepare(&self, command: &mut Command) {
        let explicit: Vec<(OsString, Option<OsString>)> = command
            .get_envs()
            .map(|(key, value)| (key.to_owned(), value.map(OsStr::to_owned)))
            .collect();
        command.env_clear();
        command.envs(self.env.iter().map(|(key, value)| (key, value)));
        for (key, value) in explicit {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        if command.get_current_dir().is_none() {
            command.current_dir("/");
        }
    }

    /// Kills every process of the user (whoever started it) and every
    /// process in the control groups: nothing the submission started
    /// survives this, whatever it did to hide.
    pub fn kill_all(&self) {
        // The processes of the user first: this also stops the forking of
        // anything in the groups.
        if let Err(err) = kill_every_process_of(&self.account) {
            eprintln!(
                "grader: could not kill the processes of {}: {err}",
                self.account.name
            );
        }
        self.cgroups.kill_all();
    }

    /// What runs as whom, under which limits, for the report.
    pub fn describe(&self) -> String {
        format!(
            "the submission ran as user {} (uid {}); limits: {}; per process: CPU time, memory, descriptors, file size; per user: processes",
            self.account.name,
            self.account.uid,
            self.cgroups.describe()
        )
    }

    /// Removes this run's folder: call once every process of the user is
    /// gone. Symbolic links in it are removed, never followed.
    pub fn remove_work(&self) {
        if let Err(err) = fs::remove_dir_all(&self.work)
            && err.kind() != io::ErrorKind::NotFound
        {
            eprintln!("grader: could not remove {}: {err}", self.work.display());
        }
    }
}

/// The environment of the user's processes: nothing of the grader's but the
/// locale and the terminal type; a PATH that starts with the toolchain
/// (`cargo`'s folder, where `rustc` is too), the user's home, and cargo
/// kept offline (the build may not download anything).
fn environment(
    account: &Account,
    home: &Path,
    cargo: &Path,
    cargo_home: Option<&Path>,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = ["LANG", "LC_ALL", "TERM", "TZ"]
        .iter()
        .filter_map(|key| Some((OsString::from(key), std::env::var_os(key)?)))
        .collect();
    let mut path = OsString::new();
    if let Some(dir) = cargo.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        path.push(dir);
        path.push(":");
        let rustc = dir.join("rustc");
        if rustc.exists() {
            env.push(("RUSTC".into(), rustc.into()));
        }
    }
    path.push("/usr/local/bin:/usr/bin:/bin");
    env.push(("PATH".into(), path));
    env.push(("HOME".into(), home.into()));
    env.push(("USER".into(), (&account.name).into()));
    env.push(("LOGNAME".into(), (&account.name).into()));
    env.push((
        "CARGO_HOME".into(),
        cargo_home
            .map_or_else(|| home.join(".cargo"), Path::to_path_buf)
            .into(),
    ));
    env.push(("CARGO_NET_OFFLINE".into(), "true".into()));
    env.push(("CARGO".into(), cargo.into()));
    env
}

/// Makes a new folder in `base` that only root can write and others can
/// only traverse, with a name nobody could have guessed and taken first.
fn private_dir(base: &Path) -> io::Result<PathBuf> {
    for attempt in 0..100u32 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(attempt);
        let dir = base.join(format!(
            "chat-grader-{}-{nanos:08x}{attempt}",
            std::process::id()
        ));
        // A new folder, never an existing one (nor a link put there).
        match DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {
                // Whatever the umask took away: others must cross it.
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o711))
                    .map_err(|err| with_path(err, "set the mode of", &dir))?;
                return Ok(dir);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(with_path(err, "create", &dir)),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("could not make a new folder in {}", base.display()),
    ))
}

fn with_path(err: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {}: {err}", path.display()))
}

/// Kills every process that `account` can signal, which is every process
/// of that user, from a child that becomes the user first: `kill(-1)`
/// reaches all of them at once, and a process cannot fork while it runs.
pub fn kill_every_process_of(account: &Account) -> io::Result<()> {
    let (uid, gid) = (account.uid, account.gid);
    if uid == 0 {
        // kill(-1) as root would kill the whole machine.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to kill every process of root",
        ));
    }
    // SAFETY: after fork, the child makes only async-signal-safe calls
    // (setgroups, setgid, setuid, getuid, geteuid, kill, _exit) and never
    // returns into Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: as above; a child that cannot become the user exits
        // without killing anything.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
                || libc::getuid() != uid
                || libc::geteuid() != uid
            {
                libc::_exit(1);
            }
            libc::kill(-1, libc::SIGKILL);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: `status` is writable; `pid` is our child.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "could not become {} (status {status:#x})",
            account.name
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_and_a_missing_user_is_none() {
        let root = lookup("root").expect("read the user database");
        assert_eq!(root.map(|account| account.uid), Some(0));
        assert_eq!(
            lookup("no-such-user-of-the-chat-kit").expect("read the user database"),
            None
        );
    }

    #[test]
    fn the_users_environment_keeps_nothing_of_the_graders_but_the_locale() {
        let account = Account {
            name: "someone".into(),
            uid: 4242,
            gid: 4242,
        };
        let env = environment(
            &account,
            Path::new("/w/home"),
            Path::new("/opt/rust/bin/cargo"),
            Some(Path::new("/opt/cargo-home")),
        );
        let get = |key: &str| {
            env.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        assert_eq!(
            get("PATH").as_deref(),
            Some("/opt/rust/bin:/usr/local/bin:/usr/bin:/bin")
        );
        assert_eq!(get("HOME").as_deref(), Some("/w/home"));
        assert_eq!(get("CARGO_HOME").as_deref(), Some("/opt/cargo-home"));
        assert_eq!(get("CARGO_NET_OFFLINE").as_deref(), Some("true"));
        let allowed = [
            "LANG",
            "LC_ALL",
            "TERM",
            "TZ",
            "RUSTC",
            "PATH",
            "HOME",
            "USER",
            "LOGNAME",
            "CARGO_HOME",
            "CARGO_NET_OFFLINE",
            "CARGO",
        ];
        for (key, _) in &env {
            assert!(
                allowed.contains(&key.to_string_lossy().as_ref()),
                "{key:?} passed on"
            );
        }
    }

    #[test]
    fn killing_every_process_of_root_is_refused() {
        let root = Account {
            name: "root".into(),
            uid: 0,
            gid: 0,
        };
        assert!(kill_every_process_of(&root).is_err());
    }
}
