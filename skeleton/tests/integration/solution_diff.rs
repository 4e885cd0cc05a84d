//! `skeleton --solution-diff FILE`: the diff that adds exactly the lines of
//! the solution blocks, which `make mutants` gives to cargo-mutants'
//! `--in-diff`.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::util::{self, Scratch, kit, run, run_ok};

/// Runs the generator with `--solution-diff`; returns its output.
fn solution_diff(solution: &Path, workspace_manifest: &Path, diff: &Path) -> Output {
    run(util::generator(solution, workspace_manifest)
        .arg("--solution-diff")
        .arg(diff))
}

/// A small kit: a workspace with its solution crate in `lab/solution/`.
fn small_kit(folder: &Scratch) {
    folder.write("Cargo.toml", "[workspace]\nmembers = [\"lab/solution\"]\n");
    folder.write(
        "lab/solution/Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n",
    );
    folder.write(
        "lab/solution/src/lib.rs",
        "\
//! A demo.

pub mod util;

pub fn add(a: i32, b: i32) -> i32 {
    // TODO 1: Add them.
    //         Both.
    // BEGIN SOLUTION
    let sum = a + b;
    sum
    // END SOLUTION
}

pub fn twice(a: i32) -> i32 {
    // BEGIN REFERENCE
    debug_assert!(a < i32::MAX / 2);
    // END REFERENCE
    // TODO 2: Double it.
    // BEGIN SOLUTION
    let twice = a * 2;
    // END SOLUTION
    // STUB: let twice: i32 = todo!(\"TODO 2\");
    twice
}

pub fn nothing() {
    // TODO 3: Nothing to write.
    // BEGIN SOLUTION
    // END SOLUTION
}
",
    );
    folder.write("lab/solution/src/util.rs", "pub fn untouched() {}\n");
    folder.write(
        "lab/solution/src/bin/tool.rs",
        "\
fn main() {
    // TODO 4: Greet.
    // BEGIN SOLUTION
    println!(\"hello\");
    // END SOLUTION
}
",
    );
    folder.write(
        "lab/solution/notes.txt",
        "// BEGIN SOLUTION\nnot Rust, never in the diff\n",
    );
    // The build output is never read.
    folder.write(
        "lab/solution/target/gen.rs",
        "// TODO 9: x\n// BEGIN SOLUTION\nx();\n// END SOLUTION\n",
    );
}

#[test]
fn the_diff_adds_exactly_the_lines_inside_the_solution_blocks() {
    let folder = Scratch::new("diff-small");
    small_kit(&folder);
    let diff = folder.join("out").join("solution.diff");
    let output = run_ok(
        util::generator(&folder.join("lab/solution"), &folder.join("Cargo.toml"))
            .arg("--solution-diff")
            .arg(&diff),
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim_end(),
        format!(
            "{}: 4 lines in 3 solution blocks of 2 files",
            diff.display()
        )
    );
    // Paths from the workspace root; a hunk per non-empty solution block,
    // whose old side is the file without the blocks before it; reference
    // blocks, stubs and markers are not student code.
    assert_eq!(
        fs::read_to_string(&diff).expect("the diff is written"),
        "\
--- a/lab/solution/src/bin/tool.rs
+++ b/lab/solution/src/bin/tool.rs
@@ -3,0 +4,1 @@
+    println!(\"hello\");
--- a/lab/solution/src/lib.rs
+++ b/lab/solution/src/lib.rs
@@ -8,0 +9,2 @@
+    let sum = a + b;
+    sum
@@ -17,0 +20,1 @@
+    let twice = a * 2;
"
    );
    // Nothing was generated: only the diff is written.
    assert!(!folder.join("lab/support").exists());
    assert!(!folder.join("support").exists());
}

#[test]
fn a_marker_error_names_its_line_and_writes_no_diff() {
    let folder = Scratch::new("diff-error");
    small_kit(&folder);
    folder.write(
        "lab/solution/src/util.rs",
        "// TODO 5: x\n// BEGIN SOLUTION\nx();\n",
    );
    let diff = folder.join("solution.diff");
    let output = solution_diff(
        &folder.join("lab/solution"),
        &folder.join("Cargo.toml"),
        &diff,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "src/util.rs:2: `// BEGIN SOLUTION` is never closed: `// END SOLUTION` is missing"
        ),
        "{stderr}"
    );
    assert!(!diff.exists());
}

#[test]
fn a_solution_outside_the_workspace_is_refused() {
    let folder = Scratch::new("diff-outside");
    small_kit(&folder);
    folder.write("elsewhere/Cargo.toml", "[workspace]\n");
    let diff = folder.join("solution.diff");
    let output = solution_diff(
        &folder.join("lab/solution"),
        &folder.join("elsewhere/Cargo.toml"),
        &diff,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not inside the workspace"), "{stderr}");
    assert!(!diff.exists());
}

/// One hunk of a diff: the file, the first new line and the added lines.
struct Hunk {
    file: String,
    start: usize,
    lines: Vec<String>,
}

/// The hunks of a diff made only of insertions.
fn hunks(diff: &str) -> Vec<Hunk> {
    let mut hunks: Vec<Hunk> = Vec::new();
    let mut file = String::new();
    for line in diff.lines() {
        if line.starts_with("--- a/") {
            continue;
        }
        if let Some(path) = line.strip_prefix("+++ b/") {
            file = path.to_owned();
        } else if let Some(header) = line.strip_prefix("@@ ") {
            let new_side = header
                .split(' ')
                .find_map(|part| part.strip_prefix('+'))
                .unwrap_or_else(|| panic!("no new side in {line}"));
            let start = new_side
                .split(',')
                .next()
                .and_then(|start| start.parse().ok())
                .unwrap_or_else(|| panic!("no start line in {line}"));
            hunks.push(Hunk {
                file: file.clone(),
                start,
                lines: Vec::new(),
            });
        } else if let Some(added) = line.strip_prefix('+') {
            hunks
                .last_mut()
                .expect("an added line is in a hunk")
                .lines
                .push(added.to_owned());
        } else {
            panic!("not a line of an insertion-only diff: {line:?}");
        }
    }
    hunks
}

#[test]
fn the_diff_of_the_real_solution_matches_its_files_between_the_markers() {
    let folder = Scratch::new("diff-real");
    let kit = kit();
    let diff = folder.join("solution.diff");
    run_ok(util::kit_generator().arg("--solution-diff").arg(&diff));
    let text = fs::read_to_string(&diff).expect("the diff is written");
    let hunks = hunks(&text);
    assert!(!hunks.is_empty(), "the solution has blocks");
    for hunk in hunks {
        assert!(hunk.file.starts_with("solution/src/"), "{}", hunk.file);
        let source = fs::read_to_string(kit.join(&hunk.file)).expect("the file exists");
        let lines: Vec<&str> = source.lines().collect();
        // What cargo-mutants checks before it trusts a diff: the added
        // lines are the file's lines at those numbers.
        for (offset, added) in hunk.lines.iter().enumerate() {
            assert_eq!(
                lines[hunk.start - 1 + offset],
                added,
                "{}:{}",
                hunk.file,
                hunk.start + offset
            );
        }
        // And each hunk is a whole block, markers excluded.
        let before = lines[hunk.start - 2].trim();
        let after = lines[hunk.start - 1 + hunk.lines.len()].trim();
        assert_eq!(before, "// BEGIN SOLUTION", "{}:{}", hunk.file, hunk.start);
        assert_eq!(after, "// END SOLUTION", "{}:{}", hunk.file, hunk.start);
    }
}
