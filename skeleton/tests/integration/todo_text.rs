//! The TODO text asks for everything its solution block does.
//!
//! A student writes a block from its TODO comment (and the lab text's
//! section for it). A statement in the reference block that the text never
//! asks for is one the student's crate will lack, and the grader may then
//! take points for a bug that the lab put there. This test reads every
//! block of the solution and lists the names it acts through: the functions
//! and methods it calls, the macros it uses and the fields it assigns. Each
//! must be named in the block's TODO comment, unless it is plumbing that
//! any Rust reader writes without being told (`Ok`, `.len()`, ...).
//!
//! It would have caught `client.last_progress = Instant::now()` inside
//! TODOs 14 and 15, which no TODO asked for.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use skeleton::markers;

use crate::util;

/// Names a block may use without its TODO naming them: the language's and
/// std's everyday vocabulary, which says nothing about the lab.
const PLUMBING: &[&str] = &[
    "Ok",
    "Err",
    "Some",
    "None",
    "matches",
    "format",
    "map_err",
    "is_empty",
    "len",
    "new",
    "unreachable",
    "extend_from_slice",
    "kind",
    "as_raw_fd",
    "as_mut_ptr",
];

/// Names that the TODO may ask for in words of its own: `eprintln!` is
/// asked for by "log".
const SAID_AS: &[(&str, &str)] = &[("eprintln", "log")];

#[test]
fn every_todo_asks_for_what_its_block_does() {
    let src = util::kit().join("solution/src");
    let mut unasked = Vec::new();
    let mut blocks = 0;
    for path in rust_files(&src) {
        let source = fs::read_to_string(&path).expect("read a solution file");
        let processed = markers::process(&path, &source).expect("valid markers");
        let lines: Vec<&str> = source.lines().collect();
        for block in &processed.solution_lines {
            blocks += 1;
            // The TODO comment runs from its `// TODO N:` line to the line
            // before `// BEGIN SOLUTION` (lines count from 1).
            let todo = processed
                .todos
                .iter()
                .rev()
                .find(|todo| todo.line < block.start)
                .expect("every block has a TODO before it");
            let text = lines[todo.line - 1..block.start - 2]
                .join(" ")
                .to_lowercase();
            let code: Vec<&str> = lines[block.start - 1..block.end - 1].to_vec();
            for name in names_acted_through(&code.join("\n")) {
                let asked = PLUMBING.contains(&name.as_str())
                    || text.contains(&name.to_lowercase())
                    || SAID_AS
                        .iter()
                        .any(|&(said, word)| said == name && text.contains(word));
                if !asked {
                    unasked.push(format!(
                        "{}:{}: TODO {} does not ask for `{name}`, which its block uses",
                        path.strip_prefix(&src).expect("a file under src").display(),
                        todo.line,
                        todo.number
                    ));
                }
            }
        }
    }
    assert!(blocks >= 16, "only {blocks} solution blocks found");
    assert!(
        unasked.is_empty(),
        "say in the TODO what the block does, or move it into the given code:\n{}",
        unasked.join("\n")
    );
}

#[test]
fn the_scan_finds_calls_macros_and_assigned_fields() {
    let code = "let x = a.last_progress; // a.ignored()\n\
                client.last_progress = Instant::now();\n\
                check(w_epoll_del_fd(epfd, fd), \"a.not_code()\")?;\n\
                eprintln!(\"{x}\"); if a.b == c {}";
    let names = names_acted_through(code);
    let expected: BTreeSet<String> = [
        "last_progress",
        "now",
        "check",
        "w_epoll_del_fd",
        "eprintln",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(names, expected);
}

/// Every `.rs` file under `folder`, in its subfolders too (lab 2's room is
/// in `src/room/`), sorted.
fn rust_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).expect("read a folder of solution/src") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The functions and methods `code` calls (`f(`, `.m(`, `T::f(`, `.m::<`),
/// the macros it uses (`m!`) and the fields it assigns (`.f = `). String
/// literals and comments are skipped.
fn names_acted_through(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in code.lines() {
        let line = without_strings_and_comments(line);
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if !(chars[i].is_alphabetic() || chars[i] == '_') {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let rest: String = chars[i..].iter().collect();
            let rest = rest.trim_start();
            let after_dot = start > 0 && chars[start - 1] == '.';
            let called = rest.starts_with('(') || rest.starts_with("::<");
            let macro_used = rest.starts_with('!') && !rest.starts_with("!=");
            let assigned = after_dot && rest.starts_with('=') && !rest.starts_with("==");
            let keyword =
                ["let", "if", "match", "while", "for", "return", "in"].contains(&name.as_str());
            if !keyword && (called || macro_used || assigned) {
                names.insert(name);
            }
        }
    }
    names
}

/// `line` with its string literals emptied and its `//` comment removed.
fn without_strings_and_comments(line: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => {
                in_string = !in_string;
                out.push('"');
            }
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ if in_string => {}
            _ => out.push(c),
        }
    }
    out
}
