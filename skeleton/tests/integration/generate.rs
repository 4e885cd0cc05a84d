//! The generator against the real `solution/`: the skeleton it makes builds
//! without warnings, offline, with a lock file of its own that the build
//! leaves as it is; it holds no solution code, stops at its TODOs, and never
//! loses a student's edit.
//!
//! Each test generates into its own folder under the system's temporary
//! folder, removed at the end. The skeleton is built with the target folder
//! `target/skeleton-check` of the kit, shared across runs, so that its
//! dependencies are compiled once.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::util::{Scratch, kit, kit_generator, read, run, run_ok};

/// Long enough for a binary to reach its first TODO on a loaded machine;
/// it gets there in milliseconds.
const TODO_DEADLINE: Duration = Duration::from_secs(10);

/// The generator, from the real solution into `out`.
fn generator(out: &Path) -> Command {
    let mut command = kit_generator();
    command.arg("--out").arg(out);
    command
}

/// Cargo, building the crate in `crate_dir` into the shared target folder.
fn cargo(crate_dir: &Path, args: &[&str]) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command
        .args(args)
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", shared_target())
        .env_remove("RUSTFLAGS");
    command
}

fn shared_target() -> PathBuf {
    kit().join("target").join("skeleton-check")
}

/// Every file under `folder`, with its text (lossy for binary files).
fn files_under(folder: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).expect("list a generated folder") {
            let path = entry.expect("list a generated folder").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = fs::read(&path).expect("read a generated file");
                files.push((path, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    files
}

/// The lines of Rust source that are code, not `//` comments.
fn code_lines(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect()
}

/// Lines that cargo printed as warnings.
fn warnings(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.starts_with("warning"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_skeleton_holds_no_solution_builds_without_warnings_and_stops_at_its_todos() {
    let folder = Scratch::new("build");
    let support = folder.join("support");
    let output = run_ok(&mut generator(&support));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains("src/w_epoll.rs: TODO 1-"),
        "the summary lists the TODOs per file:\n{summary}"
    );

    // No marker and no solution code is left.
    for (path, text) in files_under(&support) {
        for marker in ["BEGIN SOLUTION", "END SOLUTION", "STUB:", "BEGIN REFERENCE"] {
            assert!(
                !text.contains(marker),
                "{} still contains `{marker}`",
                path.display()
            );
        }
    }
    // The TODOs' comments name the calls to make, so only code counts.
    let w_epoll = read(&support.join("src/w_epoll.rs"));
    let calls: Vec<&str> = code_lines(&w_epoll)
        .into_iter()
        .filter(|line| line.contains("libc::epoll_ctl("))
        .collect();
    assert!(
        calls.is_empty(),
        "src/w_epoll.rs still calls epoll_ctl: {calls:?}"
    );
    assert!(w_epoll.contains("todo!(\"TODO 1\");"));
    for file in ["src/client.rs", "src/server.rs"] {
        let source = read(&support.join(file));
        let calls: Vec<&str> = code_lines(&source)
            .into_iter()
            .filter(|line| line.contains("epoll_wait("))
            .collect();
        assert!(calls.is_empty(), "{file} still calls epoll_wait: {calls:?}");
        assert!(
            source.contains("#![allow("),
            "{file} has stubs, so it has the lint allowance"
        );
    }
    // Files without markers are copied as they are: the tests ship unchanged.
    assert_eq!(
        fs::read(support.join("tests/w_epoll.rs")).expect("the wrapper tests ship"),
        fs::read(kit().join("solution/tests/w_epoll.rs")).expect("the solution has them"),
    );
    let manifest = read(&support.join("Cargo.toml"));
    assert!(
        !manifest.contains("workspace = true") && !manifest.contains(".workspace"),
        "support/Cargo.toml still inherits from the kit's workspace:\n{manifest}"
    );
    // The reference's own test (`// REFERENCE FILE`) is left out, with its
    // `[[test]]` and the dev-dependency that only it uses.
    assert!(
        solution_has("tests/framing.rs") && !support.join("tests/framing.rs").exists(),
        "tests/framing.rs is the reference's alone"
    );
    for reference_only in ["framing", "proptest", "metadata"] {
        assert!(
            !manifest.contains(reference_only),
            "support/Cargo.toml still names {reference_only}:\n{manifest}"
        );
    }

    // Its lock file is its own: the crate's packages, at the versions of
    // the workspace's lock, and none that only the kit's other members use.
    let lock = fs::read(support.join("Cargo.lock")).expect("the skeleton has a lock file");
    let packages = locked_packages(&String::from_utf8_lossy(&lock));
    let workspace = locked_packages(&read(&kit().join("Cargo.lock")));
    let names: Vec<&str> = packages.iter().map(|(name, _)| name.as_str()).collect();
    for used in ["chat", "libc", "assert_cmd", "predicates"] {
        assert!(names.contains(&used), "the lock lacks {used}: {names:?}");
    }
    for unused in [
        "clap",
        "toml_edit",
        "sha2",
        "anyhow",
        "serde_json",
        "proptest",
    ] {
        assert!(
            !names.contains(&unused),
            "the lock lists {unused}, which only the kit uses: {names:?}"
        );
    }
    let unknown: Vec<_> = packages.difference(&workspace).collect();
    assert!(
        unknown.is_empty(),
        "versions that are not the workspace's: {unknown:?}"
    );

    // It builds alone, offline, tests included (lab 2's, behind its
    // feature, too), with no warnings, and `--locked` proves that cargo
    // finds nothing to change in the lock.
    for args in [
        &["build", "--offline", "--locked"][..],
        &["test", "--no-run", "--offline", "--locked"][..],
        &[
            "test",
            "--no-run",
            "--offline",
            "--locked",
            "--features",
            "room",
        ][..],
    ] {
        let output = run_ok(&mut cargo(&support, args));
        assert_eq!(
            warnings(&output),
            Vec::<String>::new(),
            "cargo {args:?} in the skeleton warns:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(
        fs::read(support.join("Cargo.lock")).expect("the lock file") == lock,
        "building the skeleton rewrote its Cargo.lock"
    );

    // `cargo fmt` leaves it as it is: a student who runs it does not turn
    // every generated file into one they changed.
    run_ok(&mut cargo(&support, &["fmt", "--check"]));

    // Each binary stops at once at the first TODO of its source, with a
    // panic that names it. The client gets something to connect to, in case
    // connecting comes before its first TODO.
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let port = listener
        .local_addr()
        .expect("the listener's port")
        .port()
        .to_string();
    // Lab 2's room stops at the ring (shared memory comes first), its
    // select-client once connected. (room-helper runs only as the room's
    // child, with descriptors and a ring it inherits: the room's tests
    // reach its TODOs.)
    for (binary, args, source) in [
        ("server", vec!["0"], "src/server.rs"),
        ("client", vec!["127.0.0.1", &port], "src/client.rs"),
        ("room", vec!["0"], "src/room/shm.rs"),
        (
            "select-client",
            vec!["127.0.0.1", &port],
            "src/select_client.rs",
        ),
    ] {
        let first = first_todo(&read(&support.join(source)));
        assert_cmd::Command::new(shared_target().join("debug").join(binary))
            .args(&args)
            .write_stdin("")
            .timeout(TODO_DEADLINE)
            .assert()
            .failure()
            .stderr(predicates::str::contains(format!(
                "not yet implemented: TODO {first}\n"
            )));
    }
}

/// The lab of a source file: its `// LAB N` line, or 1.
fn lab_of(source: &str) -> u32 {
    source
        .lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("// LAB ")?;
            rest.split(':').next()?.trim().parse().ok()
        })
        .unwrap_or(1)
}

/// The TODO numbers of a source file, in order.
fn todos_of(source: &str) -> Vec<u32> {
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("// TODO ")?;
            let (number, _) = rest.split_once(':')?;
            number.parse().ok()
        })
        .collect()
}

#[test]
fn the_readme_and_the_summary_list_the_todos_lab_by_lab_as_the_files_say() {
    let folder = Scratch::new("labs");
    let support = folder.join("support");
    let output = run_ok(&mut generator(&support));
    let summary = String::from_utf8_lossy(&output.stdout).into_owned();
    let readme = read(&support.join("README.md"));

    // Each generated file with TODOs, by lab, as its own lines say.
    let mut labs: std::collections::BTreeMap<u32, Vec<(String, Vec<u32>)>> = Default::default();
    for (path, text) in files_under(&support.join("src")) {
        let todos = todos_of(&text);
        if todos.is_empty() {
            continue;
        }
        let relative = path
            .strip_prefix(&support)
            .expect("under the crate")
            .to_string_lossy()
            .into_owned();
        labs.entry(lab_of(&text))
            .or_default()
            .push((relative, todos));
    }
    assert!(
        labs.len() >= 2 && labs.contains_key(&1) && labs.contains_key(&2),
        "two labs at least: {labs:?}"
    );
    // The room is lab 2: a file of it without its marker would be listed
    // in lab 1 (the generator only catches it among lab 2's numbers).
    for (lab, files) in &labs {
        for (path, _) in files {
            let room = path.starts_with("src/room/") || path == "src/select_client.rs";
            assert_eq!(room, *lab == 2, "{path} is in lab {lab}");
        }
    }

    // The README: a heading per lab, then a line per file, the files of a
    // lab in the order of their first TODO; the summary likewise.
    let mut last_of_previous = 0;
    for (lab, files) in &mut labs {
        files.sort_by_key(|(_, todos)| todos.iter().min().copied());
        let first = files
            .iter()
            .flat_map(|(_, todos)| todos)
            .min()
            .expect("a TODO");
        assert!(*first > last_of_previous, "lab {lab} runs on from the last");
        last_of_previous = *files
            .iter()
            .flat_map(|(_, todos)| todos)
            .max()
            .expect("a TODO");
        let lines: Vec<String> = files
            .iter()
            .map(|(path, todos)| format!("- `{path}`: {}", skeleton::generate::todo_ranges(todos)))
            .collect();
        let section = format!("**Lab {lab}**\n\n{}\n", lines.join("\n"));
        assert!(
            readme.contains(&section),
            "the README lacks\n{section}\nin:\n{readme}"
        );
        let header = if *lab == 1 {
            String::from("TODOs, in the order of the lab:\n")
        } else {
            format!("TODOs of lab {lab}, in order:\n")
        };
        let printed: String = files
            .iter()
            .map(|(path, todos)| format!("  {path}: {}\n", skeleton::generate::todo_ranges(todos)))
            .collect();
        assert!(
            summary.contains(&format!("{header}{printed}")),
            "the summary lacks\n{header}{printed}in:\n{summary}"
        );
    }
}

/// Whether the kit's solution has the file `relative`.
fn solution_has(relative: &str) -> bool {
    kit().join("solution").join(relative).is_file()
}

/// The `(name, version)` of every package of a `Cargo.lock`.
fn locked_packages(lock: &str) -> BTreeSet<(String, String)> {
    let value = |entry: &str, key: &str| {
        entry.lines().find_map(|line| {
            let rest = line.strip_prefix(key)?.strip_prefix(" = \"")?;
            Some(rest.trim_end_matches('"').to_owned())
        })
    };
    lock.split("[[package]]")
        .skip(1)
        .map(|entry| {
            let name = value(entry, "name").expect("a package has a name");
            let version = value(entry, "version").expect("a package has a version");
            (name, version)
        })
        .collect()
}

/// The number of the first `// TODO N:` of a source file.
fn first_todo(source: &str) -> u32 {
    source
        .lines()
        .find_map(|line| {
            let rest = line.trim_start().strip_prefix("// TODO ")?;
            rest.split(':').next()?.parse().ok()
        })
        .expect("the file has a TODO")
}

#[test]
fn a_students_edit_survives_make_and_reset_backs_it_up() {
    let folder = Scratch::new("edit");
    let support = folder.join("support");
    run_ok(&mut generator(&support));
    let w_epoll = support.join("src/w_epoll.rs");
    let generated = read(&w_epoll);
    let edited = generated.replace("todo!(\"TODO 1\");", "0 // my answer");
    assert_ne!(edited, generated);
    fs::write(&w_epoll, &edited).expect("edit src/w_epoll.rs");
    let notes = support.join("notes.txt");
    fs::write(&notes, "mine").expect("add a file");
    // A lock file changed by the student (a dependency added, say) is
    // theirs too: the generator writes one only where there is none.
    let lock = support.join("Cargo.lock");
    let my_lock = format!("{}# mine\n", read(&lock));
    fs::write(&lock, &my_lock).expect("edit Cargo.lock");

    let output = run_ok(&mut generator(&support));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("kept src/w_epoll.rs: you changed it; `make reset` overwrites it"),
        "the second generation says it kept the edit:\n{stdout}"
    );
    assert_eq!(read(&w_epoll), edited);
    assert_eq!(read(&notes), "mine");
    assert_eq!(read(&lock), my_lock);

    let output = run_ok(generator(&support).arg("--reset"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("reset: overwriting 1 file you changed")
            && stdout.contains("  src/w_epoll.rs\n"),
        "reset says what it overwrites:\n{stdout}"
    );
    assert_eq!(read(&w_epoll), generated);
    assert_eq!(read(&notes), "mine", "reset never touches an added file");
    assert_eq!(read(&lock), my_lock, "reset never touches the lock file");
    let backups: Vec<PathBuf> = fs::read_dir(support.join(".backup"))
        .expect("reset made a backup folder")
        .map(|entry| entry.expect("list .backup").path().join("src/w_epoll.rs"))
        .collect();
    assert_eq!(backups.len(), 1, "one backup: {backups:?}");
    assert_eq!(read(&backups[0]), edited);

    let output = run_ok(&mut generator(&support));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("kept") && !stdout.contains("wrote"),
        "after the reset, nothing differs:\n{stdout}"
    );
}

#[test]
fn a_marker_error_names_file_and_line_and_writes_nothing() {
    let folder = Scratch::new("error");
    let solution = folder.join("solution");
    for file in ["Cargo.toml", "src/w_epoll.rs"] {
        let target = solution.join(file);
        fs::create_dir_all(target.parent().expect("a folder")).expect("create a folder");
        fs::copy(kit().join("solution").join(file), &target).expect("copy the solution");
    }
    let w_epoll = solution.join("src/w_epoll.rs");
    let text = read(&w_epoll);
    let line = text
        .lines()
        .position(|line| line.trim() == "// END SOLUTION")
        .expect("the solution has a block")
        + 1;
    fs::write(
        &w_epoll,
        text.replacen("// END SOLUTION", "// END SOLUTIN", 1),
    )
    .expect("break a marker");

    let support = folder.join("support");
    let output = run(crate::util::generator(&solution, &kit().join("Cargo.toml"))
        .arg("--out")
        .arg(&support));
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "{}:{line}: unknown marker `// END SOLUTIN`: did you mean `// END SOLUTION`?\n",
            w_epoll.display()
        )
    );
    assert!(!support.exists(), "nothing is written");
}
