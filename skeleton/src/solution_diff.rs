//! The lines students write, as a diff: `skeleton --solution-diff FILE`.
//!
//! Mutation testing (`make mutants`) mutates exactly the code inside the
//! `// BEGIN SOLUTION` … `// END SOLUTION` blocks, since that is what the
//! grader has to judge. cargo-mutants restricts itself to the lines a
//! unified diff adds (`--in-diff`), so this writes the diff that adds every
//! line inside a solution block (markers excluded) to a solution without
//! them: one pure-insertion hunk per non-empty block, with the file named
//! relative to the workspace root (`solution/src/server.rs`), which is how
//! cargo-mutants names it.
//!
//! The blocks come from [`markers::process`], the parser the generator
//! uses, so the diff and the skeleton never disagree on what a block is.

use std::fs;
use std::ops::Range;
use std::path::{Component, Path};

use crate::Error;
use crate::generate::list_files;
use crate::markers::{self, MarkerError};

/// The diff, and what it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolutionDiff {
    /// The unified diff.
    pub text: String,
    /// How many files have a non-empty block.
    pub files: usize,
    /// How many non-empty blocks, and how many lines they hold.
    pub blocks: usize,
    pub lines: usize,
}

/// The diff that adds the solution blocks of every `.rs` file of the crate
/// in `solution`, which must be inside `workspace_root` (the diff names
/// files relative to it).
pub fn solution_diff(solution: &Path, workspace_root: &Path) -> Result<SolutionDiff, Error> {
    let prefix = relative_prefix(solution, workspace_root)?;
    let mut diff = SolutionDiff {
        text: String::new(),
        files: 0,
        blocks: 0,
        lines: 0,
    };
    let mut marker_errors: Vec<MarkerError> = Vec::new();
    for path in list_files(solution)? {
        if !path.ends_with(".rs") {
            continue;
        }
        let source_path = solution.join(&path);
        let source =
            fs::read_to_string(&source_path).map_err(Error::io("read", source_path.as_path()))?;
        let processed = match markers::process(&source_path, &source) {
            Ok(processed) => processed,
            Err(err) => {
                marker_errors.push(err);
                continue;
            }
        };
        let blocks: Vec<Range<usize>> = processed
            .solution_lines
            .into_iter()
            .filter(|block| !block.is_empty())
            .collect();
        if blocks.is_empty() {
            continue;
        }
        diff.files += 1;
        diff.blocks += blocks.len();
        diff.lines += blocks.iter().map(ExactSizeIterator::len).sum::<usize>();
        diff.text
            .push_str(&file_diff(&format!("{prefix}{path}"), &source, &blocks));
    }
    if !marker_errors.is_empty() {
        return Err(Error::Markers(marker_errors));
    }
    Ok(diff)
}

/// `solution` relative to `workspace_root`, `/`-separated and ending in `/`
/// (empty when they are the same folder).
fn relative_prefix(solution: &Path, workspace_root: &Path) -> Result<String, Error> {
    // Canonical paths, so that `./solution`, a symbolic link or an absolute
    // path all name the same folder.
    let solution_abs = solution
        .canonicalize()
        .map_err(Error::io("find the folder", solution))?;
    let root_abs = workspace_root
        .canonicalize()
        .map_err(Error::io("find the folder", workspace_root))?;
    let relative = solution_abs
        .strip_prefix(&root_abs)
        .map_err(|_| Error::File {
            path: solution.to_path_buf(),
            message: format!(
                "not inside the workspace {}: the diff names files relative to it, as cargo-mutants does",
                workspace_root.display()
            ),
        })?;
    let mut prefix = String::new();
    for component in relative.components() {
        let Component::Normal(name) = component else {
            continue;
        };
        let Some(name) = name.to_str() else {
            return Err(Error::File {
                path: solution.to_path_buf(),
                message: String::from("a name that is not UTF-8 cannot go in a diff"),
            });
        };
        prefix.push_str(name);
        prefix.push('/');
    }
    Ok(prefix)
}

/// The diff of one file: `blocks` are non-empty line ranges (from 1, in
/// order) that the diff adds; the old side is the file without them.
fn file_diff(path: &str, source: &str, blocks: &[Range<usize>]) -> String {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut text = format!("--- a/{path}\n+++ b/{path}\n");
    // Lines added by earlier hunks, which the old side does not have.
    let mut added = 0;
    for block in blocks {
        // A pure insertion names the old line it comes after.
        let old_after = block.start - 1 - added;
        text.push_str(&format!(
            "@@ -{old_after},0 +{},{} @@\n",
            block.start,
            block.len()
        ));
        for line in &lines[block.start - 1..block.end - 1] {
            text.push('+');
            text.push_str(line);
        }
        added += block.len();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_block_is_a_pure_insertion_counted_on_both_sides() {
        let source = "\
fn a() {
    // TODO 1: x
    // BEGIN SOLUTION
    one();
    two();
    // END SOLUTION
}
fn b() {
    // TODO 2: y
    // BEGIN SOLUTION
    three();
    // END SOLUTION
}
";
        assert_eq!(
            file_diff("solution/src/lib.rs", source, &[4..6, 11..12]),
            "\
--- a/solution/src/lib.rs
+++ b/solution/src/lib.rs
@@ -3,0 +4,2 @@
+    one();
+    two();
@@ -8,0 +11,1 @@
+    three();
"
        );
    }
}
