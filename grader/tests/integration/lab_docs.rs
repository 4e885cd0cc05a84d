//! The lab text and the CI templates, held to the code they describe.
//!
//! - Every TODO of lab 1 (of the files that say no `// LAB N`) in the
//!   generated skeleton has its step in `lab-docs/README.md` (a heading
//!   `### TODO N: ...`, in order, whose section names the file and the
//!   function), and the docs name no TODO that the code lacks, nor, in
//!   lab 1's own texts, one of lab 2. Lab 2's text is `room_docs`'.
//! - Every check of the grader's table is named in a step and listed with its
//!   points, and the docs name no check that does not exist.
//! - Every grader option used in the docs' commands exists.
//! - Both ways in work as written: every kit command of the lab text (`make`
//!   targets that exist, `cd support &&`, `cargo run -p grader --`) has its
//!   form for the crate alone, and the crate's own README gives both.
//! - The docs show no absolute path of the machine an example was made on.
//! - Links between the docs point at files and headings that exist.
//! - The Gradescope script, run in a fake `/autograder` tree, writes a valid
//!   `results.json`: full marks for the solution, zero for the skeleton, zero
//!   and a reason for what cannot be graded.
//! - The GitHub Classroom and GitLab files are well formed (parsed as YAML
//!   when python3 has the yaml module), and their points add up.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use grader::catalog::{CHECKS, Lab};

use crate::docs::{
    self, CodeTodo, Mention, assert_links_exist, assert_steps_follow_todos, catalog_line,
    code_todos, command_lines, contains_word, counts_before, inline_code, lab_of, lab_todos,
    leading_number, mentions, number_list, rust_files, section, step_headings, todo_mentions,
    todo_refs, todos_by_file, written_todos,
};
use crate::room_docs;
use crate::util::{self, GRADER, Run, copy_dir, make_old, read, skeleton};

/// The lab whose TODOs this module holds its texts to: lab 1, the TODOs of
/// the files that say no `// LAB N`.
const LAB: u32 = 1;

/// This file, as the kit names it (`grader/tests/integration/lab_docs.rs`).
const THIS_FILE: &str = file!();

fn lab_text() -> String {
    read(&util::kit().join("lab-docs/README.md"))
}

/// This module's scratch folder, under the kit's target/ so that builds in
/// it are reused by the next run.
fn scratch() -> PathBuf {
    util::scratch("lab-docs-test")
}

// ---------------------------------------------------------------------------
// TODOs

#[test]
fn every_todo_of_the_skeleton_has_its_step_in_the_lab_text_in_order() {
    let todos = lab_todos(skeleton(), LAB);
    assert!(!todos.is_empty(), "no TODO of lab 1 found in the skeleton");
    // The skeleton and the solution agree, in every lab (the generator keeps
    // the comments and the files' `// LAB N` lines).
    let numbers_and_labs = |crate_dir: &Path| -> Vec<(u32, u32)> {
        code_todos(crate_dir)
            .iter()
            .map(|todo| (todo.number, todo.lab))
            .collect()
    };
    assert_eq!(
        numbers_and_labs(skeleton()),
        numbers_and_labs(&util::kit().join("solution"))
    );
    assert_steps_follow_todos(
        "lab-docs/README.md",
        &lab_text(),
        &todos,
        "lab 1 (the files without a `// LAB N` line)",
    );
}

/// What each of lab 1's TODO numbers means wherever the kit names one (the lab text,
/// the guide, the READMEs, the hints, the CI files, the TODOs' own texts,
/// the mistakes test): the function the TODO is in and the first words of
/// its text. The code must mean the same. After a TODO is added, moved or
/// renumbered, the test below fails and lists every mention of a number
/// whose meaning changed, with its file and line: fix each one, then write
/// here what the code means now (the failure prints it).
const TODO_MEANINGS: &[(u32, &str, &str)] = &[
    (1, "w_epoll_add_fd_in", "Add `fd` to the"),
    (2, "w_epoll_del_fd", "Remove `fd` from the"),
    (3, "w_epoll_update_fd", "Change what is watched"),
    (4, "connect", "Connect to the server"),
    (5, "connect", "Add standard input (`STDIN`)"),
    (
        6,
        "run",
        "Wait with `libc::epoll_wait(epfd, events.as_mut_ptr(),",
    ),
    (7, "run", "Dispatch on the event's"),
    (8, "send_input", "Read standard input with"),
    (9, "new", "Create the epoll instance"),
    (
        10,
        "serve",
        "Wait with `libc::epoll_wait(epfd, events.as_mut_ptr(),",
    ),
    (11, "accept_clients", "Accept a waiting connection"),
    (12, "admit", "Make the socket non-blocking"),
    (13, "receive", "Read once from `client.stream`"),
    (14, "broadcast", "Append `bytes` to the"),
    (15, "flush", "If the outbox is"),
    (16, "remove_client", "Take the socket out"),
];

/// The files that name TODOs by number, relative to the kit.
fn mention_files() -> Vec<PathBuf> {
    let root = util::kit();
    let mut files = vec![
        root.join("README.md"),
        root.join("skeleton/README.md"),
        root.join("skeleton/STUDENT_README.md"),
        root.join("grader/src/catalog.rs"),
        root.join("grader/tests/integration/mistakes.rs"),
    ];
    files.extend(doc_files());
    rust_files(&root.join("solution/src"), &mut files);
    files
}

/// The path of `path` in the kit, as a failure names it.
fn in_kit(path: &Path) -> String {
    path.strip_prefix(util::kit())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The TODO mentions of a file, each on its line trimmed. In the
/// solution's source, a TODO's own `// TODO N:` and its stub's
/// `todo!("TODO N")` are the TODO itself, not mentions of it.
fn mentions_in(path: &Path) -> Vec<Mention> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    let source = path.starts_with(util::kit().join("solution/src"));
    mentions(&in_kit(path), &text)
        .into_iter()
        .filter(|mention| {
            let line_start = text[..mention.at].rfind('\n').map_or(0, |i| i + 1);
            let before = &text[line_start..mention.at];
            let after = &text[mention.at + mention.written.len()..];
            let own = before.trim() == "//" && after.starts_with(':')
                || before.ends_with("todo!(\"") && after.starts_with('"');
            !(source && own)
        })
        .map(|mention| Mention {
            line: mention.line.trim().to_owned(),
            ..mention
        })
        .collect()
}

/// Whether a file that names TODOs is lab 1's alone, and so may name no
/// TODO of a later lab: lab 1's text, and the source files of lab 1.
fn is_of_lab_1_alone(path: &Path) -> bool {
    let kit = util::kit();
    if path.starts_with(kit.join("solution/src")) {
        return fs::read_to_string(path).is_ok_and(|source| lab_of(&source) == LAB);
    }
    path == kit.join("lab-docs/README.md")
}

#[test]
fn every_mention_of_a_todo_number_means_what_the_code_means_by_it() {
    let every_lab = code_todos(&util::kit().join("solution"));
    // The lab of every TODO number of the code; the meanings are lab 1's.
    let lab_of_todo: BTreeMap<u32, u32> = every_lab
        .iter()
        .map(|todo| (todo.number, todo.lab))
        .collect();
    let todos: Vec<&CodeTodo> = every_lab.iter().filter(|todo| todo.lab == LAB).collect();
    let now: BTreeMap<u32, (&str, &str)> = todos
        .iter()
        .map(|todo| (todo.number, (todo.function.as_str(), todo.words.as_str())))
        .collect();
    let documented: BTreeMap<u32, (&str, &str)> = TODO_MEANINGS
        .iter()
        .map(|&(number, function, words)| (number, (function, words)))
        .collect();
    let changed: BTreeSet<u32> = now
        .keys()
        .chain(documented.keys())
        .filter(|number| now.get(number) != documented.get(number))
        .copied()
        .collect();
    let mut stale = Vec::new();
    // A number no lab has; or, in a file of lab 1 alone, one of a later lab.
    let unknown = |numbers: &BTreeSet<u32>, lab_1_alone: bool| {
        numbers.iter().any(|n| match lab_of_todo.get(n) {
            None => true,
            Some(lab) => lab_1_alone && *lab != LAB,
        })
    };
    for path in mention_files() {
        let lab_1_alone = is_of_lab_1_alone(&path);
        for mention in mentions_in(&path) {
            if unknown(&mention.numbers, lab_1_alone) || !mention.numbers.is_disjoint(&changed) {
                stale.push(format!(
                    "  {}: `{}` in: {}",
                    mention.place, mention.written, mention.line
                ));
            }
        }
    }
    // The table of checks writes its TODOs without the word.
    for (name, (line, cells)) in check_table(&lab_text()) {
        let Some((numbers, _)) = cells.get(2).and_then(|cell| number_list(cell)) else {
            continue;
        };
        if unknown(&numbers, true) || !numbers.is_disjoint(&changed) {
            stale.push(format!(
                "  lab-docs/README.md:{line}: `{}` in the TODOs column of {name}",
                cells[2]
            ));
        }
    }
    if changed.is_empty() && stale.is_empty() {
        return;
    }
    let meaning = |(function, words): (&str, &str)| format!("in `{function}`, \"{words} ...\"");
    let mut message = String::from(
        "Lab 1's TODOs of solution/src no longer mean what the kit's texts were written for:\n",
    );
    for number in &changed {
        if let Some(&was) = documented.get(number) {
            let moved = now.iter().find(|(_, is)| **is == was).map(|(n, _)| *n);
            message.push_str(&format!(
                "  TODO {number} was the TODO {}{}\n",
                meaning(was),
                moved.map_or(String::from(", which is gone"), |n| format!(
                    ", which is now TODO {n}"
                ))
            ));
        }
        if let Some(&is) = now.get(number) {
            message.push_str(&format!(
                "  TODO {number} is now the TODO {}\n",
                meaning(is)
            ));
        }
    }
    message.push_str(
        "Each mention of these numbers, or of a TODO the code does not have (or, in a text \
         of lab 1 alone, of a later lab's TODO), may be stale; make each say what it means:\n",
    );
    message.push_str(&stale.join("\n"));
    message.push_str(&format!(
        "\nThen set TODO_MEANINGS in {THIS_FILE} to what the code means now:\n"
    ));
    for todo in &todos {
        message.push_str(&format!(
            "    ({}, {:?}, {:?}),\n",
            todo.number, todo.function, todo.words
        ));
    }
    panic!("{message}");
}

#[test]
fn todo_references_are_read_in_every_form_the_text_uses() {
    let refs = todo_refs(
        "TODO 7: x. TODOs 1-3, TODOs 4 to 5, TODOs 9 and 12, TODO 13, 15, 16; TODOs; TODO markers; XTODO 40",
    );
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 7, 9, 12, 13, 15, 16]
    );
    let wrapped: Vec<(String, Vec<u32>)> = todo_mentions(
        "(after TODOs 14 and\n  15), as in\n        //         TODO 4), TODO 4, in `x`, TODOs 12, 14-15",
    )
    .into_iter()
    .map(|(_, written, numbers)| (written, numbers.into_iter().collect()))
    .collect();
    assert_eq!(
        wrapped,
        [
            (String::from("TODOs 14 and\n  15"), vec![14, 15]),
            (String::from("TODO 4"), vec![4]),
            (String::from("TODO 4"), vec![4]),
            (String::from("TODOs 12, 14-15"), vec![12, 14, 15]),
        ]
    );
    let set = BTreeSet::from([1, 2, 3, 9, 12, 14, 15]);
    assert_eq!(written_todos(&set), "1-3, 9, 12, 14-15");
    assert_eq!(
        number_list("12, 14-15 |"),
        Some((BTreeSet::from([12, 14, 15]), 9))
    );
}

#[test]
fn every_stub_stops_at_its_own_todo() {
    let mut files = Vec::new();
    rust_files(&util::kit().join("solution/src"), &mut files);
    let mut wrong = Vec::new();
    for path in files {
        let text = read(&path);
        let mut current = None;
        for (index, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if let Some(rest) = code.strip_prefix("// TODO ")
                && let Some((number, after)) = leading_number(rest)
                && after.starts_with(':')
            {
                current = Some(number);
            }
            for (at, _) in line.match_indices("todo!(\"TODO ") {
                let stub = leading_number(&line[at + 12..]).map(|(n, _)| n);
                if stub != current {
                    wrong.push(format!(
                        "  {}:{}: {} (the TODO above it is {current:?})",
                        in_kit(&path),
                        index + 1,
                        code
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "a stub names another TODO than its own, so students would be sent to the wrong step:\n{}",
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Checks

/// Everything in a text that looks like a check name: `part/name`.
fn check_like_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for part in ["wrapper/", "server/", "client/"] {
        for (at, _) in text.match_indices(part) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || "/-_.".contains(c)) {
                continue;
            }
            let rest: String = text[at + part.len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect();
            let rest = rest.trim_end_matches('-');
            if !rest.is_empty() {
                names.insert(format!("{part}{rest}"));
            }
        }
    }
    names
}

/// Every file of `lab-docs/`: the Markdown pages and the CI templates.
fn doc_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("list a folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&util::kit().join("lab-docs"), &mut files);
    files.sort();
    files
}

#[test]
fn every_check_is_named_in_a_step_and_listed_with_its_points() {
    let text = lab_text();
    let lines: Vec<&str> = text.lines().collect();
    let steps: Vec<String> = step_headings(&lines)
        .iter()
        .map(|(_, index)| section(&lines, *index))
        .collect();
    for check in CHECKS {
        let quoted = format!("`{}`", check.name);
        assert!(
            steps.iter().any(|step| step.contains(&quoted)),
            "no step of lab-docs/README.md names {quoted}: say which TODO it covers"
        );
        let row = format!("| {quoted} | {} |", check.points);
        assert!(
            text.lines().any(|line| line.starts_with(&row)),
            "the table of checks in lab-docs/README.md has no row `{row} ...`"
        );
    }
    let total: u32 = CHECKS.iter().map(|check| check.points).sum();
    assert!(
        text.contains(&format!("{total} in all")),
        "the lab text states the total, {total} points"
    );
}

/// Where the lab text says each check's behaviour lives (see
/// [`docs::todos_of_checks`]), for lab 1's checks.
fn todos_of_checks(text: &str) -> BTreeMap<String, BTreeSet<u32>> {
    docs::todos_of_checks(text, |code| check_like_names(code).contains(code))
}

/// The rows of the lab text's table of checks: check name, line (1-based)
/// and cells.
fn check_table(text: &str) -> BTreeMap<String, (usize, Vec<String>)> {
    docs::check_table(text, CHECKS)
}

#[test]
fn the_todos_column_and_the_hints_name_the_todos_where_each_check_lives() {
    let text = lab_text();
    let lives = todos_of_checks(&text);
    let table = check_table(&text);
    let mut wrong = Vec::new();
    for check in CHECKS {
        let Some(todos) = lives.get(check.name) else {
            wrong.push(format!(
                "  lab-docs/README.md: no step's **Checks:** names `{}`: name it in the step of \
                 each TODO where its behaviour lives (or, for a check of a whole part, in the \
                 part's **Checks.**)",
                check.name
            ));
            continue;
        };
        if let Some((line, cells)) = table.get(check.name) {
            let column = cells.get(2).map(String::as_str).unwrap_or_default();
            let said = number_list(column).filter(|(_, used)| *used == column.len());
            if said.as_ref().map(|(numbers, _)| numbers) != Some(todos) {
                wrong.push(format!(
                    "  lab-docs/README.md:{line}: the TODOs column of {} says `{column}`; the \
                     steps whose **Checks** name it say `{}`",
                    check.name,
                    written_todos(todos)
                ));
            }
        }
        let named = todo_refs(check.hint);
        if !named.is_subset(todos) {
            wrong.push(format!(
                "  grader/src/catalog.rs:{}: the hint of {} names TODOs {}, but it lives in \
                 TODOs {} (the steps of lab-docs/README.md whose **Checks** name it)",
                catalog_line(check.name, "hint"),
                check.name,
                written_todos(&named),
                written_todos(todos)
            ));
        }
    }
    for name in lives.keys() {
        if !CHECKS.iter().any(|check| check.name == name) {
            wrong.push(format!(
                "  lab-docs/README.md: a **Checks** names {name}, which is not a check"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "where each check lives, the steps' **Checks** say one thing and these another:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_lab_text_says_when_each_check_can_pass() {
    let text = lab_text();
    let lines: Vec<&str> = text.lines().collect();
    let index = lines
        .iter()
        .position(|line| line.starts_with('#') && line.ends_with("When can a check pass?"))
        .expect("lab-docs/README.md has a section `When can a check pass?`");
    let names = check_like_names(&section(&lines, index));
    for check in CHECKS {
        assert!(
            names.contains(check.name),
            "lab-docs/README.md:{}: `When can a check pass?` does not say when {} can",
            index + 1,
            check.name
        );
    }
}

#[test]
fn the_docs_name_no_check_that_the_grader_lacks() {
    let known: BTreeSet<&str> = CHECKS.iter().map(|check| check.name).collect();
    for path in doc_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for name in check_like_names(&text) {
            assert!(
                known.contains(name.as_str()),
                "{} names {name}, which is not a check of grader/src/catalog.rs",
                path.display()
            );
        }
    }
}

#[test]
fn check_like_names_are_found_and_paths_are_not() {
    let names = check_like_names(
        "`server/join`, client/pipe. and wrapper/update-missing- but not src/bin/client.rs, \
         tests/chat/server.rs, grader/src/checks/server.rs or a/server/x",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["client/pipe", "server/join", "wrapper/update-missing"]
    );
}

// ---------------------------------------------------------------------------
// Counts, ranges and sample reports

/// The file of the students' crate that holds each part's TODOs.
const PART_FILES: [(&str, &str); 3] = [
    ("wrapper", "src/w_epoll.rs"),
    ("client", "src/client.rs"),
    ("server", "src/server.rs"),
];

/// The TODO numbers of each file of [`PART_FILES`], from the code.
fn lab_1_todos_by_file() -> BTreeMap<String, BTreeSet<u32>> {
    let files = todos_by_file(&util::kit().join("solution"), LAB);
    let known: BTreeSet<&str> = PART_FILES.iter().map(|(_, file)| *file).collect();
    assert_eq!(
        files.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        known,
        "the files of lab 1 with TODOs are not those of PART_FILES in {THIS_FILE}"
    );
    files
}

/// The part or file whose TODOs a mention of several gives, if it gives
/// theirs: the one file of the line (`src/client.rs: TODO 4-8`), or the
/// part just before it (`the server (TODOs 9-16)`, `server: TODOs 9 to 16`).
fn range_subject(mention: &Mention) -> Option<&'static str> {
    let files: Vec<&str> = PART_FILES
        .iter()
        .map(|(_, file)| *file)
        .filter(|file| mention.line.contains(file))
        .collect();
    if let [file] = files[..] {
        return Some(file);
    }
    let at = mention.line.find(&mention.written)?;
    let before = mention.line[..at]
        .trim_end_matches(|c: char| c.is_whitespace() || "(:*".contains(c))
        .to_lowercase();
    // The part's whole name: `select-client` is not `client`.
    PART_FILES
        .iter()
        .find(|(part, _)| {
            before.strip_suffix(part).is_some_and(|rest| {
                !rest
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
            })
        })
        .map(|(_, file)| *file)
}

#[test]
fn every_range_of_todos_given_for_a_part_or_a_file_is_its_todos() {
    let files = lab_1_todos_by_file();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for path in mention_files() {
        for mention in mentions_in(&path) {
            if mention.numbers.len() < 2 {
                continue;
            }
            let Some(file) = range_subject(&mention) else {
                continue;
            };
            checked += 1;
            let todos = &files[file];
            if &mention.numbers != todos {
                wrong.push(format!(
                    "  {}: `{}` for {file}, whose TODOs are {}: {}",
                    mention.place,
                    mention.written,
                    written_todos(todos),
                    mention.line
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "these give a part's TODOs, and the code's are others:\n{}",
        wrong.join("\n")
    );
    assert!(checked >= 10, "only {checked} ranges of a part found");
}

/// The files that state how many TODOs or checks there are, or show a
/// report.
fn count_files() -> Vec<PathBuf> {
    let mut files = vec![
        util::kit().join("README.md"),
        util::kit().join("skeleton/README.md"),
        util::kit().join("skeleton/STUDENT_README.md"),
        util::kit().join("grader/tests/fixtures/README.md"),
    ];
    files.extend(doc_files());
    files
}

#[test]
fn the_counts_of_todos_and_checks_are_the_codes() {
    let todos = lab_todos(&util::kit().join("solution"), LAB).len() as u64;
    let checks = CHECKS.len() as u64;
    let mut wrong = Vec::new();
    // Lab 2's text counts lab 2's TODOs and checks: `room_docs` holds it to
    // them.
    let lab_2_text = util::kit().join(room_docs::TEXT);
    for path in count_files().into_iter().filter(|path| *path != lab_2_text) {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let place = format!("{}:{}", in_kit(&path), index + 1);
            for count in counts_before(line, "TODOs") {
                if count != todos {
                    wrong.push(format!(
                        "  {place}: {count} TODOs, the code has {todos}: {line}"
                    ));
                }
            }
            // A report's last line counts the checks it ran: see the test
            // of the sample reports.
            if line.starts_with("Score:") {
                continue;
            }
            for count in counts_before(line, "checks") {
                if count != checks {
                    wrong.push(format!(
                        "  {place}: {count} checks, the grader has {checks}: {line}"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "say it without the number, or with the right one:\n{}",
        wrong.join("\n")
    );
}

/// The points of each part, from the catalog.
fn part_points() -> BTreeMap<String, u32> {
    let mut points = BTreeMap::new();
    for check in CHECKS {
        *points.entry(check.part.to_string()).or_default() += check.points;
    }
    points
}

/// Checks a sample report of a doc (the lines of one text block) against
/// the catalog; returns what differs, each with its line.
fn sample_report_errors(file: &str, first_line: usize, block: &[&str]) -> Vec<String> {
    let text = lab_text();
    let lives = todos_of_checks(&text);
    let mut wrong = Vec::new();
    let mut listed: Vec<&grader::catalog::Check> = Vec::new();
    let mut section: Option<&grader::catalog::Check> = None;
    for (offset, line) in block.iter().enumerate() {
        let place = format!("{file}:{}", first_line + offset);
        let mut say = |what: String| wrong.push(format!("  {place}: {what}: {line}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["PASS" | "FAIL", score, name, ..] = words[..]
            && let Some(check) = grader::catalog::find(name)
        {
            listed.push(check);
            let max = score.split('/').nth(1).unwrap_or_default();
            if max != check.points.to_string() {
                say(format!("{name} is worth {}", check.points));
            }
            let description = line[line.find(name).unwrap_or(0) + name.len()..].trim();
            if description != check.description {
                say(format!(
                    "the description of {name} is `{}`",
                    check.description
                ));
            }
        } else if let Some(rest) = line.strip_prefix("--- ") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            section = grader::catalog::find(name);
            if let Some(check) = section
                && !rest.contains(&format!("({} point", check.points))
            {
                say(format!("{name} is worth {}", check.points));
            }
        } else if let (Some(check), Some(value)) =
            (section, line.trim_start().strip_prefix("check:"))
        {
            if value.trim() != check.description {
                say(format!(
                    "the description of {} is `{}`",
                    check.name, check.description
                ));
            }
        } else if let (Some(check), Some(value)) =
            (section, line.trim_start().strip_prefix("hint:"))
        {
            if value.trim() != check.hint {
                say(format!("the hint of {} is `{}`", check.name, check.hint));
            }
        } else if let Some(rest) = line.strip_prefix("Next step: fix ") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            let named = todo_refs(rest);
            if let Some(todos) = lives.get(name)
                && !named.is_subset(todos)
            {
                say(format!("{name} lives in TODOs {}", written_todos(todos)));
            }
        } else if let Some(rest) = line.strip_prefix("Score: ") {
            let points = part_points();
            let max: u32 = rest
                .split(['/', ' '])
                .nth(1)
                .and_then(|max| max.parse().ok())
                .unwrap_or_default();
            let breakdown = rest
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once(')'))
                .map_or("", |(inside, _)| inside);
            // A whole grading shows every part, and counts every check; one
            // of some checks, the checks it shows.
            let whole = points
                .keys()
                .all(|part| breakdown.contains(&format!("{part} ")));
            let (parts, count) = if whole {
                (points, CHECKS.len())
            } else {
                let mut shown = BTreeMap::new();
                for check in &listed {
                    *shown.entry(check.part.to_string()).or_default() += check.points;
                }
                (shown, listed.len())
            };
            let expected_max: u32 = parts.values().sum();
            if max != expected_max {
                say(format!("the checks are worth {expected_max}"));
            }
            for (part, points) in &parts {
                let shown = breakdown
                    .split(", ")
                    .find_map(|entry| entry.strip_prefix(&format!("{part} ")))
                    .and_then(|score| score.split('/').nth(1));
                if shown != Some(&points.to_string()) {
                    say(format!("{part} is worth {points}"));
                }
            }
            let ran = rest
                .split(" of ")
                .nth(1)
                .and_then(|after| after.split_whitespace().next())
                .and_then(|count| count.parse::<usize>().ok());
            if ran != Some(count) {
                say(format!("it ran {count} checks"));
            }
        }
    }
    wrong
}

#[test]
fn the_sample_reports_show_the_catalogs_points_descriptions_and_hints() {
    let mut wrong = Vec::new();
    let mut samples = 0;
    for path in doc_files() {
        if path.extension().is_none_or(|ext| ext != "md") {
            continue;
        }
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        let mut index = 0;
        while index < lines.len() {
            if lines[index] != "```text" {
                index += 1;
                continue;
            }
            let end = index
                + 1
                + lines[index + 1..]
                    .iter()
                    .position(|line| line.starts_with("```"))
                    .expect("a closed block");
            let block = &lines[index + 1..end];
            if block.iter().any(|line| line.starts_with("Score: ")) {
                samples += 1;
                wrong.extend(sample_report_errors(&in_kit(&path), index + 2, block));
            }
            index = end + 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "a sample report shows what the grader no longer says (grade again, or fix the \
         line):\n{}",
        wrong.join("\n")
    );
    assert!(samples >= 2, "only {samples} sample reports found");
}

#[test]
fn the_lab_text_shows_what_the_generator_prints_of_the_todos() {
    let text = lab_text();
    let start = text
        .find("`make` prints where the TODOs are:\n\n```text\n")
        .expect("lab-docs/README.md shows where make says the TODOs are");
    let block = &text[start..];
    let block = &block[block.find("```text\n").expect("a block") + 8..];
    let block = &block[..block.find("```").expect("a closed block")];
    let printed = util::skeleton_summary();
    assert!(
        printed.contains(block),
        "lab-docs/README.md shows\n{block}but the generator prints\n{printed}"
    );
}

/// The Rust versions a line asks for: `1.88` where it speaks of Rust or
/// cargo, and setup.sh's `RUST_MINOR_NEEDED=88`.
fn rust_versions(line: &str) -> Vec<String> {
    if let Some(minor) = line.trim().strip_prefix("RUST_MINOR_NEEDED=") {
        return vec![format!("1.{minor}")];
    }
    let lower = line.to_lowercase();
    if !["rust", "cargo"].iter().any(|word| lower.contains(word)) {
        return Vec::new();
    }
    line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|word| word.trim_end_matches('.'))
        .filter(|word| {
            word.split_once('.').is_some_and(|(major, minor)| {
                major == "1" && minor.len() == 2 && minor.chars().all(|c| c.is_ascii_digit())
            })
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_rust_the_docs_ask_for_is_the_workspaces_rust_version() {
    let manifest = read(&util::kit().join("Cargo.toml"));
    let version = manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("rust-version = "))
        .expect("the workspace's Cargo.toml has a rust-version")
        .trim_matches('"')
        .to_owned();
    let mut wrong = Vec::new();
    let mut found = 0;
    for path in count_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            for asked in rust_versions(line) {
                found += 1;
                if asked != version {
                    wrong.push(format!(
                        "  {}:{}: {asked}: {}",
                        in_kit(&path),
                        index + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the workspace's rust-version is {version}, and these ask for another:\n{}",
        wrong.join("\n")
    );
    assert!(found >= 4, "only {found} Rust versions found in the docs");
    assert_eq!(
        rust_versions("Rust (1.88 or newer), GLIBC 2.34, Ubuntu 22.04"),
        ["1.88"]
    );
}

// ---------------------------------------------------------------------------
// Grader options used in commands

fn grader_help(args: &[&str]) -> String {
    let run = Run::new(util::grader().args(args).arg("--help")).assert_success();
    String::from_utf8(run.output.stdout).expect("UTF-8 help")
}

/// The `--long` options a help text lists.
fn options_of(help: &str) -> BTreeSet<String> {
    help.split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|word| {
            let name: String = word
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                .collect();
            (!name.is_empty()).then(|| format!("--{name}"))
        })
        .collect()
}

/// A grader run in a command line: its subcommand (if any) and its
/// arguments, up to the end of the command.
#[derive(Debug)]
struct GraderCall {
    subcommand: Option<String>,
    args: Vec<String>,
}

fn grader_calls(line: &str) -> Vec<GraderCall> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let mut calls = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        let bare = token.trim_matches(|c| c == '"' || c == '\'' || c == '`');
        let is_grader = bare == "grader" || bare.ends_with("/grader") || bare == "$GRADER";
        if !is_grader {
            continue;
        }
        let previous = index.checked_sub(1).map(|i| tokens[i]);
        let start = if matches!(previous, Some("-p" | "--package")) {
            // `cargo run -p grader -- ARGS` runs it; `cargo build -p grader` does not.
            if tokens.get(index + 1) != Some(&"--") {
                continue;
            }
            index + 2
        } else {
            index + 1
        };
        let mut args: Vec<String> = tokens[start.min(tokens.len())..]
            .iter()
            .take_while(|t| !t.starts_with(['|', '&', ';', '>', '<', ')']) && **t != "2>&1")
            .map(|t| t.trim_matches('`').to_owned())
            .collect();
        let subcommand = args
            .first()
            .filter(|first| !first.starts_with('-'))
            .cloned();
        if subcommand.is_some() {
            args.remove(0);
        }
        calls.push(GraderCall { subcommand, args });
    }
    calls
}

/// What the grader accepts, from its own help: the options of the main
/// command and of its subcommands; with the catalog's labs, their parts
/// and checks, and the formats.
struct GraderOptions {
    main: BTreeSet<String>,
    /// The options of each subcommand but the reference peers.
    subcommands: BTreeMap<String, BTreeSet<String>>,
}

/// The lab a grader call grades: the one its `--lab` names (`None` for one
/// named by a shell variable, or that does not exist), or lab 1.
fn lab_of_call(call: &GraderCall) -> Option<Lab> {
    let value = call.args.iter().enumerate().find_map(|(index, arg)| {
        if arg == "--lab" {
            call.args.get(index + 1).map(String::as_str)
        } else {
            arg.strip_prefix("--lab=")
        }
    });
    match value.map(|value| value.trim_matches('"')) {
        None => Some(Lab::Chat),
        Some(name) => [Lab::Chat, Lab::Room]
            .into_iter()
            .find(|lab| lab.name() == name),
    }
}

/// The subcommands of the grader's help (`Commands:`), but `help`.
fn subcommands(main_help: &str) -> Vec<String> {
    main_help
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

impl GraderOptions {
    fn new() -> Self {
        let main_help = grader_help(&[]);
        let main = options_of(&main_help);
        let subcommands: BTreeMap<String, BTreeSet<String>> = subcommands(&main_help)
            .into_iter()
            .filter(|name| !name.starts_with("reference-"))
            .map(|name| {
                let options = options_of(&grader_help(&[&name]));
                (name, options)
            })
            .collect();
        assert!(main.contains("--dir") && subcommands["batch"].contains("--reports"));
        Self { main, subcommands }
    }

    /// Panics, naming `where_`, if `call` uses an option, a lab, a format
    /// that the grader does not have, or a part or a check that the lab it
    /// grades does not have (any lab's, when a shell variable names it).
    fn assert_valid(&self, call: &GraderCall, where_: &str) {
        let formats = ["human", "json", "junit", "tap"];
        let labs = match lab_of_call(call) {
            Some(lab) => vec![lab],
            None => vec![Lab::Chat, Lab::Room],
        };
        let parts: BTreeSet<String> = labs
            .iter()
            .flat_map(|lab| lab.parts())
            .map(ToString::to_string)
            .collect();
        let checks: BTreeSet<&str> = labs
            .iter()
            .flat_map(|lab| lab.checks())
            .map(|check| check.name)
            .collect();
        let allowed = match call.subcommand.as_deref() {
            None => &self.main,
            Some(name) if self.subcommands.contains_key(name) => &self.subcommands[name],
            Some("reference-server" | "reference-client") => {
                assert!(
                    call.args.iter().all(|arg| !arg.starts_with('-')),
                    "the reference peers take no options: {where_}"
                );
                return;
            }
            // Not a subcommand: an argument of something else, such as a
            // path given to `install`.
            Some(_) => return,
        };
        for (index, arg) in call.args.iter().enumerate() {
            if !arg.starts_with("--") {
                continue;
            }
            // `--name`, then maybe `=value`; quotes or a `)` of the shell
            // may follow.
            let name: String = arg[2..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                .collect();
            let option = format!("--{name}");
            let inline = arg[2 + name.len()..].strip_prefix('=').map(str::to_owned);
            let option = option.as_str();
            assert!(
                allowed.contains(option),
                "`{option}` is not an option of the grader: {where_}"
            );
            let value = inline.or_else(|| call.args.get(index + 1).cloned());
            let Some(value) = value.filter(|v| !v.trim_start_matches('"').starts_with('$')) else {
                continue;
            };
            match option {
                "--lab" => assert!(lab_of_call(call).is_some(), "no lab {value}: {where_}"),
                "--part" => assert!(
                    parts.contains(&value),
                    "no part {value} in the lab graded ({}): {where_}",
                    labs.iter()
                        .map(|lab| lab.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "--check" => assert!(
                    checks.contains(value.as_str()),
                    "no check {value} in the lab graded ({}): {where_}",
                    labs.iter()
                        .map(|lab| lab.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "--format" => assert!(formats.contains(&value.as_str()), "{where_}"),
                _ => {}
            }
        }
    }
}

#[test]
fn every_grader_option_in_the_docs_exists() {
    let options = GraderOptions::new();
    let mut seen = 0;
    for path in doc_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for line in command_lines(&path, &text) {
            for call in grader_calls(&line) {
                seen += 1;
                options.assert_valid(&call, &format!("{}: {line}", path.display()));
            }
        }
    }
    assert!(seen >= 20, "only {seen} grader commands found in lab-docs/");
}

#[test]
fn grader_calls_are_found_where_the_grader_runs_and_only_there() {
    let calls = grader_calls("cargo run -q -p grader -- --dir support --check client/receive");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].args,
        ["--dir", "support", "--check", "client/receive"]
    );
    let calls = grader_calls("cargo run -q -p grader -- batch subs/ --jobs 4 | tee x");
    assert_eq!(calls[0].subcommand.as_deref(), Some("batch"));
    assert_eq!(calls[0].args, ["subs/", "--jobs", "4"]);
    assert!(grader_calls("cargo test -p grader --test integration lab_docs::").is_empty());
    assert!(grader_calls("cargo build --release -p grader").is_empty());
    let calls = grader_calls(r#"timeout 9 "$GRADER" --dir "$CRATE" --format json"#);
    assert_eq!(calls[0].args, ["--dir", "\"$CRATE\"", "--format", "json"]);
    let calls = grader_calls("command: grader --dir . --part wrapper");
    assert_eq!(calls[0].args, ["--dir", ".", "--part", "wrapper"]);
    assert_eq!(lab_of_call(&calls[0]), Some(Lab::Chat));
    let lab = |line: &str| lab_of_call(&grader_calls(line)[0]);
    assert_eq!(lab("grader --lab room --check room/ready"), Some(Lab::Room));
    assert_eq!(lab("grader --lab=chat --part client"), Some(Lab::Chat));
    assert_eq!(lab("grader --lab \"$LAB\" --dir ."), None);
}

// ---------------------------------------------------------------------------
// Links and pictures

#[test]
fn links_between_the_docs_point_at_files_and_headings_that_exist() {
    let pages = ["README.md", "protocol.md", "instructors.md"];
    let checked: usize = pages.into_iter().map(assert_links_exist).sum();
    assert!(checked >= 20, "only {checked} links checked");

    let root = read(&util::kit().join("README.md"));
    for page in pages {
        assert!(
            root.contains(&format!("(lab-docs/{page})")),
            "the root README.md links to lab-docs/{page}"
        );
    }
}

#[test]
fn the_pictures_are_mermaid_diagrams_of_known_kinds() {
    let text = lab_text();
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut current, line) {
            (None, "```mermaid") => current = Some(Vec::new()),
            (Some(block), "```") => {
                blocks.push(block.clone());
                current = None;
            }
            (Some(block), line) => block.push(line),
            (None, _) => {}
        }
    }
    let kinds: Vec<&str> = blocks.iter().map(|block| block[0].trim()).collect();
    assert_eq!(
        kinds,
        ["flowchart TD", "flowchart TD", "sequenceDiagram"],
        "the client's loop, the server's loop, three clients and the server"
    );
    for block in &blocks {
        for line in block {
            assert_eq!(
                line.matches('"').count() % 2,
                0,
                "unbalanced quotes: {line}"
            );
            assert!(!line.contains(';'), "`;` ends a Mermaid statement: {line}");
        }
    }
    let sequence = blocks[2].join("\n");
    for who in ["alice", "bob", "carol"] {
        assert!(sequence.contains(&format!("participant {}", &who[..1].to_uppercase())));
    }
    for notice in ["(connected)", "(disconnected)"] {
        assert!(sequence.contains(notice), "the sequence shows {notice}");
    }
}

// ---------------------------------------------------------------------------
// Both ways in: the kit, and the crate alone

/// The targets of the kit's `Makefile`.
fn make_targets() -> BTreeSet<String> {
    read(&util::kit().join("Makefile"))
        .lines()
        .filter_map(|line| {
            let (target, _) = line.split_once(':')?;
            let plain = !target.is_empty()
                && target
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            plain.then(|| target.to_owned())
        })
        .collect()
}

/// The `make` commands of a text (`make`, `make check`, ...): in inline code,
/// and at the start of the lines of `commands`.
fn make_commands(text: &str, commands: &[String]) -> BTreeSet<String> {
    let inline = text
        .lines()
        .flat_map(|line| line.split('`').skip(1).step_by(2));
    let starts = commands.iter().map(|line| line.trim_start());
    inline
        .chain(starts)
        .filter_map(|code| {
            let mut words = code.split_whitespace();
            (words.next()? == "make").then_some(())?;
            let target = words
                .next()
                .filter(|word| word.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            Some(match target {
                Some(target) => format!("make {target}"),
                None => String::from("make"),
            })
        })
        .collect()
}

/// Asserts that each `make` command exists: the bare `make` runs the
/// default target, any other names a target of the Makefile.
fn assert_make_commands_exist(commands: &BTreeSet<String>, where_: &str) {
    let targets = make_targets();
    for command in commands {
        if let Some(target) = command.strip_prefix("make ") {
            assert!(
                targets.contains(target),
                "{where_} runs `{command}`, but the Makefile has no target {target}"
            );
        }
    }
}

/// The rows of the lab text's table for students who got the crate alone:
/// (what the text writes, what they run instead).
fn crate_alone_table(text: &str) -> Vec<(String, String)> {
    let start = text
        .find("**With the crate alone**, run every command")
        .expect("lab-docs/README.md has the table for the crate alone");
    text[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 2, "a row of two cells: {row}");
            (cells[0].to_owned(), cells[1].to_owned())
        })
        .collect()
}

#[test]
fn the_lab_texts_commands_have_their_form_for_the_crate_alone() {
    let text = lab_text();
    let path = util::kit().join("lab-docs/README.md");
    let commands = command_lines(&path, &text);
    let kit_commands = make_commands(&text, &commands);
    assert!(
        kit_commands.contains("make check"),
        "the lab text runs make check: {kit_commands:?}"
    );
    assert_make_commands_exist(&kit_commands, "lab-docs/README.md");

    let table = crate_alone_table(&text);
    let kit_side: Vec<String> = table.iter().flat_map(|(kit, _)| inline_code(kit)).collect();
    for command in &kit_commands {
        assert!(
            kit_side.contains(command),
            "the table for the crate alone does not say what replaces `{command}`"
        );
    }
    // The kit's other two forms: the crate's folder, and the grader run by
    // cargo.
    for form in ["cd support && ", "cargo run -q -p grader -- "] {
        assert!(
            commands.iter().any(|line| line.contains(form)),
            "the lab text no longer uses `{form}`: update this test"
        );
        assert!(
            kit_side.iter().any(|code| code.starts_with(form)),
            "the table for the crate alone does not say what replaces `{form}`"
        );
    }

    let options = GraderOptions::new();
    let mut grader_runs = 0;
    for (kit, alone) in &table {
        for code in inline_code(alone) {
            for kit_only in ["make", "support", "-p grader"] {
                assert!(
                    !contains_word(&code, kit_only),
                    "`{code}`, for the crate alone, uses `{kit_only}`, which only the kit has"
                );
            }
            for call in grader_calls(&code) {
                grader_runs += 1;
                options.assert_valid(&call, &format!("the table for the crate alone: {code}"));
            }
        }
        assert!(!alone.is_empty(), "nothing replaces {kit}");
    }
    assert!(
        table
            .iter()
            .any(|(kit, alone)| kit == "`make check`" && alone.contains("`grader --dir .`")),
        "`make check` becomes `grader --dir .`: {table:?}"
    );
    assert!(
        grader_runs >= 3,
        "only {grader_runs} grader commands in the table"
    );
}

#[test]
fn the_crates_readme_says_what_to_run_with_the_kit_and_alone() {
    let path = skeleton().join("README.md");
    let readme = read(&path);
    // Its commands are the lines indented by four spaces.
    let commands: Vec<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("    "))
        .map(|line| line.split(" #").next().unwrap_or(line).trim().to_owned())
        .collect();
    for expected in [
        "cargo build",
        "cargo test",
        "make check",
        "grader --dir .",
        "grader reference-server 5000",
        "grader reference-client 127.0.0.1 5000",
    ] {
        assert!(
            commands.iter().any(|line| line.ends_with(expected)),
            "the crate's README does not show `{expected}`: {commands:?}"
        );
    }
    let options = GraderOptions::new();
    let mut grader_runs = 0;
    for line in &commands {
        for call in grader_calls(line) {
            grader_runs += 1;
            options.assert_valid(&call, &format!("the crate's README.md: {line}"));
        }
    }
    assert!(grader_runs >= 5, "only {grader_runs} grader commands");
    assert_make_commands_exist(&make_commands(&readme, &commands), "the crate's README.md");
}

#[test]
fn make_and_table_rows_are_read_as_written() {
    let commands = [String::from("make            # all"), String::from("cd x")];
    assert_eq!(
        make_commands("run `make check`, `make reset` or `Makefile`", &commands)
            .into_iter()
            .collect::<Vec<_>>(),
        ["make", "make check", "make reset"]
    );
    let table = crate_alone_table(
        "**With the crate alone**, run every command:\n\n| a | b |\n| --- | --- |\n\
         | `make` | `cargo build` |\n| `x` | y, then `z` |\n\ntext\n",
    );
    assert_eq!(
        table,
        [
            (String::from("`make`"), String::from("`cargo build`")),
            (String::from("`x`"), String::from("y, then `z`")),
        ]
    );
}

// ---------------------------------------------------------------------------
// The instructors' guide, held to the tool

fn guide() -> String {
    read(&util::kit().join("lab-docs/instructors.md"))
}

/// What this test does with a command of the guide's shell blocks.
enum How {
    /// Runs it (see [`the_guides_commands_work_as_written`]): it must exit
    /// with `status`, and then each of `then` must hold: `PATH` exists,
    /// `!PATH` does not, `~TEXT` is in what it printed, `?PROGRAM` is
    /// installed (else the command is skipped, and the test says so).
    Run {
        status: i32,
        then: &'static [&'static str],
    },
    /// The test of this name runs it.
    By(&'static str),
    /// Not run here, for this reason.
    Not(&'static str),
}

const fn run(status: i32, then: &'static [&'static str]) -> How {
    How::Run { status, then }
}

/// Every command of the guide's shell blocks, as the guide writes it
/// (comments left out, spaces as one), and what this test does with it.
const GUIDE_COMMANDS: &[(&str, How)] = &[
    (
        "make test",
        How::Not("it is the suite this test is part of"),
    ),
    (
        "cargo run -q -p grader -- --server grader/tests/fixtures/server_echo.py",
        run(1, &["~server/broadcast"]),
    ),
    (
        "make flake",
        How::Not(
            "the solution graded 50 times with every core busy: minutes, on a machine that does nothing else",
        ),
    ),
    (
        "make flake RUNS=200",
        How::Not("as `make flake`, four times longer"),
    ),
    (
        "make bench-grader",
        How::Not("a measurement, on a quiet machine: ten gradings of the solution"),
    ),
    (
        "cargo run -q -p grader -- --dir path/to/crate",
        run(1, &["~Score:"]),
    ),
    (
        "cargo run -q -p grader -- --dir path/to/crate --part server",
        run(1, &["~server/join"]),
    ),
    (
        "cargo run -q -p grader -- --dir path/to/crate --check server/join",
        run(1, &["~server/join"]),
    ),
    (
        "cargo run -q -p grader -- --dir path/to/crate --format json --out results.json",
        run(1, &["results.json"]),
    ),
    (
        "cargo run -q -p grader -- --list",
        run(0, &["~server/join"]),
    ),
    (
        "cargo run -q -p grader -- --server ./their_server --client ./their_client",
        run(1, &["~client/receive"]),
    ),
    (
        "cargo run -q -p grader -- --server ./chat_server.py --part server",
        run(1, &["~server/join"]),
    ),
    (
        "cargo run -q -p grader -- batch submissions/ --reports grades/",
        run(0, &["grades/gradebook.csv", "grades/ada.json"]),
    ),
    (
        "cargo run -q -p grader -- batch submissions/ --reports grades/ --jobs 4 --csv gradebook.csv",
        run(0, &["gradebook.csv"]),
    ),
    (
        "cargo run -q -p grader -- render grades/ada.json",
        run(0, &["~Score:"]),
    ),
    (
        "cargo run -q -p grader -- render grades/ada.json --format tap --out ada.tap",
        run(0, &["ada.tap"]),
    ),
    (
        "cargo run -q -p grader -- batch submissions/ --reports grades-1/ --shard 1/2",
        run(0, &["grades-1/ada.json", "grades-1/gradebook.csv"]),
    ),
    (
        "cargo run -q -p grader -- batch submissions/ --reports grades-2/ --shard 2/2",
        run(0, &["grades-2/gradebook.csv", "!grades-2/ada.json"]),
    ),
    (
        "cargo run -q -p grader -- gradebook grades-1/ grades-2/ --out gradebook.csv",
        run(0, &["gradebook.csv", "~1 graded"]),
    ),
    (
        "sudo useradd --system --no-create-home --shell /usr/sbin/nologin chatgrader1",
        How::Not(
            "makes a system user, as root: `make test-integrity` does, as root, with users of its own",
        ),
    ),
    (
        "sudo useradd --system --no-create-home --shell /usr/sbin/nologin chatgrader2",
        How::Not(
            "makes a system user, as root: `make test-integrity` does, as root, with users of its own",
        ),
    ),
    (
        "sudo CARGO=/opt/rust/bin/cargo CARGO_HOME=/opt/cargo-home grader batch submissions/ --reports grades/ --user chatgrader1 --user chatgrader2",
        How::Not(
            "needs root, the grading users and a toolchain they can run: `make test-integrity` runs this batch as root",
        ),
    ),
    (
        "cargo run -q -p skeleton -- --out handout/chat",
        run(
            0,
            &[
                "handout/chat/Cargo.toml",
                "handout/chat/Cargo.lock",
                "handout/chat/README.md",
            ],
        ),
    ),
    ("cp -r lab-docs handout/chat/lab-docs", run(0, &[])),
    (
        "rm -r handout/chat/lab-docs/ci handout/chat/lab-docs/instructors.md",
        run(
            0,
            &[
                "handout/chat/lab-docs/README.md",
                "handout/chat/lab-docs/protocol.md",
                "!handout/chat/lab-docs/ci",
                "!handout/chat/lab-docs/instructors.md",
            ],
        ),
    ),
    (
        "cargo build --release -p grader",
        How::Not(
            "a release build of the grader: minutes on two cores; every test runs the same code, built for debugging",
        ),
    ),
    (
        "docker run --rm -v \"$PWD\":/kit -w /kit rust:1-bookworm cargo build --release -p grader",
        How::Not("needs docker, and the network to pull rust:1-bookworm"),
    ),
    (
        "objdump -T target/release/grader | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1",
        run(0, &["?objdump", "~GLIBC_"]),
    ),
    (
        "lab-docs/ci/gradescope/make-autograder-zip.sh autograder.zip",
        run(0, &["autograder.zip", "~upload it"]),
    ),
    ("ag=\"$(mktemp -d)\"", run(0, &[])),
    (
        "cargo run -q -p skeleton -- --out \"$ag/submission\"",
        run(0, &[]),
    ),
    (
        "AUTOGRADER_ROOT=\"$ag\" KIT_DIR=\"$PWD\" GRADER=\"$PWD/target/debug/grader\" SKELETON_DIR=\"$ag/skeleton\" lab-docs/ci/gradescope/run_autograder",
        run(0, &[]),
    ),
    (
        "cat \"$ag/results/results.json\"",
        run(0, &["~\"max_score\": 100"]),
    ),
    (
        "lab-docs/ci/github-classroom/make-per-check-workflow.sh > lab-docs/ci/github-classroom/classroom-per-check.yml",
        How::By("the_per_check_classroom_workflow_is_what_the_script_makes_of_the_grader"),
    ),
    (
        "cargo run -q -p grader -- --lab room --list",
        run(0, &["~room/helpers"]),
    ),
    (
        "cargo run -q -p grader -- --dir path/to/crate --lab room",
        run(1, &["~Score:", "~room/helpers"]),
    ),
    (
        "cargo run -q -p grader -- --dir path/to/crate --lab room --part select-client",
        run(1, &["~select-client/select"]),
    ),
    (
        "cargo run -q -p grader -- batch submissions/ --lab room --reports grades-room/",
        run(0, &["grades-room/gradebook.csv", "grades-room/ada.json"]),
    ),
    (
        "cargo test -p grader --test integration room_grading::",
        How::Not("lab 2's self-check, a module of the suite this test is part of"),
    ),
    (
        "lab-docs/ci/gradescope/make-autograder-zip.sh --lab room autograder-room.zip",
        run(0, &["autograder-room.zip", "~upload it", "~lab room"]),
    ),
    (
        "lab-docs/ci/github-classroom/make-per-check-workflow.sh --lab room > lab-docs/ci/github-classroom/classroom-per-check-room.yml",
        How::By("the_per_check_classroom_workflow_is_what_the_script_makes_of_the_grader"),
    ),
];

/// The shell blocks of a Markdown text: for each, its commands with their
/// line (1-based), as [`command_lines`] reads them, spaces as one.
fn shell_blocks(text: &str) -> Vec<Vec<(usize, String)>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        if !matches!(lines[index], "```sh" | "```bash" | "```shell") {
            index += 1;
            continue;
        }
        let mut block = Vec::new();
        let mut start = None;
        index += 1;
        while index < lines.len() && !lines[index].starts_with("```") {
            let line = lines[index];
            start.get_or_insert(index + 1);
            let code = match line.find(" #") {
                Some(at) => &line[..at],
                None if line.trim_start().starts_with('#') => "",
                None => line,
            };
            if code.trim_end().ends_with('\\') {
                block.push((0, code.trim_end().trim_end_matches('\\').to_owned()));
            } else {
                block.push((start.take().unwrap_or(index + 1), code.to_owned()));
            }
            index += 1;
        }
        // Join the continued lines onto the line that ends them.
        let mut commands: Vec<(usize, String)> = Vec::new();
        let mut pending = Vec::new();
        for (line, code) in block {
            pending.push(code);
            if line != 0 {
                let joined = pending
                    .join(" ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                pending.clear();
                if !joined.is_empty() {
                    commands.push((line, joined));
                }
            }
        }
        blocks.push(commands);
        index += 1;
    }
    blocks
}

#[test]
fn every_command_of_the_guide_is_run_or_said_why_not() {
    let guide = guide();
    let shown: Vec<(usize, String)> = shell_blocks(&guide).into_iter().flatten().collect();
    let mut wrong = Vec::new();
    for (line, command) in &shown {
        if !GUIDE_COMMANDS.iter().any(|(listed, _)| listed == command) {
            wrong.push(format!(
                "  lab-docs/instructors.md:{line}: `{command}` is in no entry of GUIDE_COMMANDS: \
                 say how this test runs it, which test does, or why none can"
            ));
        }
    }
    for (listed, _) in GUIDE_COMMANDS {
        if !shown.iter().any(|(_, command)| command == listed) {
            wrong.push(format!(
                "  GUIDE_COMMANDS lists `{listed}`, which the guide no longer shows"
            ));
        }
    }
    let source = read(&util::kit().join(THIS_FILE));
    for (listed, how) in GUIDE_COMMANDS {
        match how {
            How::By(test) if !source.contains(&format!("#[test]\nfn {test}()")) => wrong.push(
                format!("  `{listed}` is run by {test}, which is not a test of this file"),
            ),
            How::Not(reason) if reason.trim().is_empty() => {
                wrong.push(format!("  `{listed}` is not run, and no reason is given"));
            }
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{THIS_FILE} runs every command of the guide, or says why not:\n{}",
        wrong.join("\n")
    );
    let make = make_commands(&guide, &command_lines(Path::new("x.md"), &guide));
    assert_make_commands_exist(&make, "lab-docs/instructors.md");
}

/// A view of the kit to run the guide's commands in, as an instructor
/// would in the kit's folder: the kit's files through links, its lab-docs
/// copied (the commands change them), the grader built at
/// `target/debug/grader` and `target/release/grader`, and what the
/// examples name: `path/to/crate` and `submissions/ada` (the skeleton),
/// `their_server`, `their_client`, `chat_server.py` (programs that stop at
/// once, so that their checks fail fast). Its batches' report folders
/// (`grades*/`), which hold their build folders, are kept from one run to
/// the next.
fn guide_kit() -> PathBuf {
    let kit = scratch().join("guide-kit");
    if let Ok(entries) = fs::read_dir(&kit) {
        for entry in entries {
            let path = entry.expect("a folder entry").path();
            if path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("grades"))
            {
                for report in ["ada.json", "ada.txt", "gradebook.csv"] {
                    let _ = fs::remove_file(path.join(report));
                }
                continue;
            }
            if path.is_dir() && !path.is_symlink() {
                fs::remove_dir_all(&path).expect("empty the guide's kit");
            } else {
                fs::remove_file(&path).expect("empty the guide's kit");
            }
        }
    }
    fs::create_dir_all(&kit).expect("make the guide's kit");
    for name in [
        "Cargo.toml",
        "Cargo.lock",
        "Makefile",
        "solution",
        "skeleton",
        "grader",
    ] {
        std::os::unix::fs::symlink(util::kit().join(name), kit.join(name)).expect("link the kit");
    }
    copy_dir(&util::kit().join("lab-docs"), &kit.join("lab-docs"));
    for build in ["debug", "release"] {
        fs::create_dir_all(kit.join("target").join(build)).expect("make target/");
        std::os::unix::fs::symlink(GRADER, kit.join("target").join(build).join("grader"))
            .expect("link the grader");
    }
    copy_dir(skeleton(), &kit.join("path/to/crate"));
    copy_dir(skeleton(), &kit.join("submissions/ada"));
    for program in ["their_server", "their_client", "chat_server.py"] {
        let path = kit.join(program);
        fs::write(
            &path,
            "#!/bin/sh\necho \"$0: a stand-in for the guide's example: it stops at once\" >&2\nexit 1\n",
        )
        .expect("write a stand-in");
        let mut permissions = fs::metadata(&path).expect("its metadata").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        fs::set_permissions(&path, permissions).expect("make it executable");
    }
    fs::create_dir_all(kit.join("tmp")).expect("make tmp/");
    kit
}

fn is_installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Runs the guide's shell blocks, each in one shell (a block's lines share
/// its variables), with the commands [`GUIDE_COMMANDS`] runs; checks what
/// it says of each. `cargo run -q -p grader --` and
/// `cargo run -q -p skeleton --` run the programs this test was built with
/// (the same code, and no second cargo in the kit's build folder); the
/// crates the grader builds go to a build folder of this test's.
#[test]
fn the_guides_commands_work_as_written() {
    let guide = guide();
    let kit = guide_kit();
    let _heavy = util::one_heavy_test_at_a_time();
    let mut wrong = Vec::new();
    let mut ran = 0;
    for (number, block) in shell_blocks(&guide).into_iter().enumerate() {
        let mut script = String::from("exec 3>guide-status\n");
        let mut runs = Vec::new();
        for (line, command) in &block {
            let Some((_, How::Run { status, then })) =
                GUIDE_COMMANDS.iter().find(|(listed, _)| listed == command)
            else {
                continue;
            };
            if let Some(missing) = then
                .iter()
                .filter_map(|check| check.strip_prefix('?'))
                .find(|program| !is_installed(program))
            {
                eprintln!(
                    "lab-docs/instructors.md:{line}: not run, {missing} is not installed: {command}"
                );
                continue;
            }
            let shell = command
                .replace("cargo run -q -p grader --", "\"$KIT_GRADER\"")
                .replace("cargo run -q -p skeleton --", "\"$KIT_SKELETON\"");
            assert!(
                !shell.contains("cargo "),
                "lab-docs/instructors.md:{line}: `{command}` runs cargo: list it as not run, or run \
                 it here another way"
            );
            let out = format!("guide-{number}-{}", runs.len());
            script.push_str(&format!(
                "{{ {shell}\n}} >{out}.out 2>{out}.err </dev/null\necho $? >&3\n"
            ));
            runs.push((*line, command, *status, *then, out));
        }
        if runs.is_empty() {
            continue;
        }
        let run = Run::new(
            Command::new("bash")
                .arg("-c")
                .arg(&script)
                .current_dir(&kit)
                .env("KIT_GRADER", GRADER)
                .env("KIT_SKELETON", util::skeleton_generator())
                .env("CARGO_TARGET_DIR", scratch().join("guide-build"))
                .env("TMPDIR", kit.join("tmp")),
        );
        let statuses: Vec<i32> = read(&kit.join("guide-status"))
            .lines()
            .filter_map(|status| status.parse().ok())
            .collect();
        assert_eq!(statuses.len(), runs.len(), "{}", run.explain());
        for ((line, command, status, then, out), got) in runs.into_iter().zip(statuses) {
            ran += 1;
            let printed = fs::read_to_string(kit.join(format!("{out}.out"))).unwrap_or_default();
            let errors = fs::read_to_string(kit.join(format!("{out}.err"))).unwrap_or_default();
            let mut failed = Vec::new();
            if got != status {
                failed.push(format!("exited with {got}, not {status}"));
            }
            for check in then {
                if let Some(text) = check.strip_prefix('~') {
                    if !printed.contains(text) {
                        failed.push(format!("printed no `{text}`"));
                    }
                } else if let Some(path) = check.strip_prefix('!') {
                    if kit.join(path).exists() {
                        failed.push(format!("left {path}"));
                    }
                } else if !check.starts_with('?') && !kit.join(check).exists() {
                    failed.push(format!("made no {check}"));
                }
            }
            if !failed.is_empty() {
                let tail = |text: &str| {
                    let lines: Vec<&str> = text.lines().collect();
                    lines[lines.len().saturating_sub(15)..].join("\n    ")
                };
                wrong.push(format!(
                    "  lab-docs/instructors.md:{line}: `{command}` {}\n    stdout:\n    {}\n    stderr:\n    {}",
                    failed.join(", "),
                    tail(&printed),
                    tail(&errors)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "commands of the guide that do not do what it says, run in {}:\n{}",
        kit.display(),
        wrong.join("\n")
    );
    assert!(ran >= 15, "only {ran} commands of the guide run");
}

/// The options of a help text's `Options:` and their defaults
/// (`[default: X]`, or `(default: X)` in the description), if any.
fn option_defaults(help: &str) -> BTreeMap<String, Option<String>> {
    let mut options: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut current = None;
    let mut in_options = false;
    for line in help.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            in_options = line == "Options:";
            continue;
        }
        if !in_options {
            continue;
        }
        let trimmed = line.trim_start();
        // `--lab <LAB>` or `-h, --help` starts an option; `- chat: ...`,
        // one of its possible values, belongs to the option above.
        if trimmed.starts_with('-') && !trimmed.starts_with("- ") {
            let name = trimmed
                .split([' ', ',', '='])
                .find(|word| word.starts_with("--"))
                .map(str::to_owned);
            if let Some(name) = &name {
                options.insert(name.clone(), None);
            }
            current = name;
        }
        for (open, close) in [("(default: ", ')'), ("[default: ", ']')] {
            if let (Some(name), Some(at)) = (&current, line.find(open)) {
                let value = &line[at + open.len()..];
                let value = value[..value.find(close).unwrap_or(value.len())].to_owned();
                options.insert(name.clone(), Some(value));
            }
        }
    }
    options
}

/// The default a sentence states: `(default X)`, `(default: X)`,
/// `X by default`, `without it, X` (to the end of the sentence).
fn stated_default(sentence: &str) -> Option<String> {
    if let Some((_, rest)) = sentence.split_once("without it, ") {
        return Some(rest.trim().trim_end_matches('.').to_owned());
    }
    let words: Vec<&str> = sentence.split_whitespace().collect();
    let clean = |word: &str| {
        word.trim_matches(|c: char| "()[],.;:`".contains(c))
            .to_owned()
    };
    for (index, word) in words.iter().enumerate() {
        if *word == "by"
            && words
                .get(index + 1)
                .is_some_and(|next| next.starts_with("default"))
        {
            return index.checked_sub(1).map(|i| clean(words[i]));
        }
        if word.trim_start_matches('(').starts_with("default") {
            return words.get(index + 1).map(|next| clean(next));
        }
    }
    None
}

/// The text of the guide's section `## title`.
fn guide_section(guide: &str, title: &str) -> String {
    let start = guide
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("the guide has no section `{title}`"));
    let rest = &guide[start + 4 + title.len()..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
}

#[test]
fn the_guide_documents_every_option_with_the_default_the_grader_has() {
    let guide = guide();
    let mut wrong = Vec::new();
    for (args, title) in [
        (&[][..], "Grading one submission"),
        (&["batch"][..], "Grading a folder of submissions"),
        (&["render"][..], "Grading a folder of submissions"),
        (&["gradebook"][..], "Grading a folder of submissions"),
    ] {
        let command = ["grader"]
            .iter()
            .chain(args)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let options = option_defaults(&grader_help(args));
        assert!(
            options.contains_key("--out") || options.contains_key("--jobs"),
            "{options:?}"
        );
        for option in options.keys() {
            if option == "--help" || option == "--version" {
                continue;
            }
            let shown = guide.match_indices(option.as_str()).any(|(at, _)| {
                let after = guide[at + option.len()..].chars().next();
                !after.is_some_and(|c| c.is_ascii_lowercase() || c == '-')
            });
            if !shown {
                wrong.push(format!(
                    "  `{command} {option}` is in no part of the guide: say what it is for"
                ));
            }
        }
        let section = guide_section(&guide, title).replace('\n', " ");
        for sentence in section.split(". ") {
            let named: Vec<&String> = options
                .keys()
                .filter(|option| sentence.contains(&format!("`{option}")))
                .collect();
            let (Some(stated), [option]) = (stated_default(sentence), &named[..]) else {
                continue;
            };
            let default = options[*option].as_deref().unwrap_or("none");
            if stated != default {
                wrong.push(format!(
                    "  \"{title}\" says the default of `{command} {option}` is {stated}; \
                     `{command} --help` says {default}: {sentence}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "lab-docs/instructors.md and the grader's help disagree:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn help_options_and_stated_defaults_are_read_as_written() {
    let help = "Usage: x\n\nOptions:\n      --jobs <N>\n          How many\n          \n          [default: 8]\n\n      --lab <LAB>\n          The lab\n\n          Possible values:\n          - chat: Lab 1\n          - room: Lab 2\n          \n          [default: chat]\n\n      --dir <DIR>\n          The crate\n  -h, --help  Print help\n      --reports <DIR>  Where [default: grades]\n";
    let options = option_defaults(help);
    assert_eq!(options["--jobs"].as_deref(), Some("8"));
    assert_eq!(options["--lab"].as_deref(), Some("chat"));
    assert_eq!(options["--dir"], None);
    assert_eq!(options["--reports"].as_deref(), Some("grades"));
    assert!(options.contains_key("--help"));
    assert_eq!(
        stated_default("`--jobs` at a time, 8 by default"),
        Some("8".into())
    );
    assert_eq!(
        stated_default("`--jobs N` (default 2) grades"),
        Some("2".into())
    );
    assert_eq!(
        stated_default("`--x` (default: `grades/`)"),
        Some("grades/".into())
    );
    assert_eq!(stated_default("Lower `--jobs` on a loaded machine"), None);
    assert_eq!(
        stated_default("`--jobs N` grades N at once; without it, half the cores, at least 1"),
        Some("half the cores, at least 1".into())
    );
    let help = "Options:\n      --jobs <N>  How many (default: half the cores, at least 1). Each\n";
    assert_eq!(
        option_defaults(help)["--jobs"].as_deref(),
        Some("half the cores, at least 1")
    );
}

// ---------------------------------------------------------------------------
// Paths

/// Absolute paths that only exist on some machine: the one where an
/// example was made, or a user's home. Gradescope's `/autograder` is the
/// same everywhere, and is not one of them.
const MACHINE_PATHS: [&str; 6] = ["/work/", "/tmp/", "/root/", "/home/", "/Users/", "/var/"];

/// The absolute paths of a text that start with one of [`MACHINE_PATHS`]:
/// where a path starts (not inside another, such as `/autograder/work/`,
/// nor after a variable, such as `$HOME/tmp/`), up to the next space or
/// quote.
fn machine_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in MACHINE_PATHS {
        for (at, _) in text.match_indices(prefix) {
            let inside = text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || "_-./$}~)".contains(c));
            if inside {
                continue;
            }
            let path: String = text[at..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !"`'\")]".contains(*c))
                .collect();
            found.push(path);
        }
    }
    found
}

#[test]
fn the_docs_show_no_path_of_the_machine_they_were_made_on() {
    let mut files = doc_files();
    files.push(util::kit().join("skeleton/STUDENT_README.md"));
    let mut checked = 0;
    for path in files {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        checked += 1;
        for (index, line) in text.lines().enumerate() {
            let paths = machine_paths(line);
            assert!(
                paths.is_empty(),
                "{}:{}: {paths:?} exists only on some machine: write the path a student \
                 has (support/..., target/...) or a relative one",
                path.display(),
                index + 1
            );
        }
    }
    assert!(checked >= 5, "only {checked} files checked");
}

#[test]
fn machine_paths_are_found_where_a_path_starts() {
    assert_eq!(
        machine_paths(
            "1. start: /work/main/target/debug/grader reference-server 0\n\
             `/tmp/ag/x` and \"/home/ada\" but not /autograder/work/crate, \
             $HOME/tmp/x, ~/work/x or support/target/debug/client"
        ),
        ["/work/main/target/debug/grader", "/tmp/ag/x", "/home/ada"]
    );
}

// ---------------------------------------------------------------------------
// Gradescope

/// A fake `/autograder` tree for `case`, with an empty `submission/`.
fn fake_autograder(case: &str) -> PathBuf {
    let root = scratch().join(format!("autograder-{case}"));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("submission")).expect("create the fake tree");
    root
}

/// Runs the Gradescope script in the fake tree; returns its results.json.
fn run_autograder(root: &Path, grader: &Path) -> serde_json::Value {
    let _heavy = util::one_heavy_test_at_a_time();
    Run::new(
        Command::new("bash")
            .arg(util::kit().join("lab-docs/ci/gradescope/run_autograder"))
            .env("AUTOGRADER_ROOT", root)
            .env("KIT_DIR", util::kit())
            .env("GRADER", grader)
            .env("SKELETON_DIR", skeleton())
            .env("CARGO_TARGET_DIR", scratch().join("build")),
    )
    .assert_success();
    let results = root.join("results/results.json");
    let text = read(&results);
    let value: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("results.json is not JSON ({err}):\n{text}"));
    // What Gradescope requires of every results.json.
    assert!(value["score"].is_number(), "{value}");
    assert!(value["tests"].is_array(), "{value}");
    assert!(value["output"].is_string(), "{value}");
    value
}

fn max_score() -> u64 {
    CHECKS.iter().map(|check| u64::from(check.points)).sum()
}

/// A graded report: every check is a test with its points and status.
fn assert_graded(results: &serde_json::Value, score: u64) {
    assert_eq!(results["score"], score, "{results:#}");
    assert_eq!(results["max_score"], max_score(), "{results:#}");
    let tests = results["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), CHECKS.len(), "{results:#}");
    for (test, check) in tests.iter().zip(CHECKS) {
        assert_eq!(test["name"], check.name);
        assert_eq!(test["max_score"], check.points);
        let status = if score == max_score() {
            "passed"
        } else if score == 0 {
            "failed"
        } else {
            continue;
        };
        assert_eq!(test["status"], status, "{test:#}");
    }
}

/// The skeleton, then the solution whose files are older than the
/// skeleton's build, in the same build folder: cargo must not take the
/// skeleton's binaries for the solution's.
#[test]
fn gradescope_gives_the_skeleton_zero_and_the_solution_full_marks() {
    let root = fake_autograder("skeleton");
    copy_dir(skeleton(), &root.join("submission"));
    let results = run_autograder(&root, Path::new(GRADER));
    assert_graded(&results, 0);

    let root = fake_autograder("solution");
    let crate_dir = root.join("submission");
    copy_dir(skeleton(), &crate_dir);
    copy_dir(&util::kit().join("solution/src"), &crate_dir.join("src"));
    make_old(&crate_dir);
    let results = run_autograder(&root, Path::new(GRADER));
    assert_graded(&results, max_score());
}

#[test]
fn gradescope_grades_the_files_with_todos_alone_in_the_skeleton() {
    let root = fake_autograder("files");
    for file in ["w_epoll.rs", "client.rs", "server.rs"] {
        fs::copy(
            util::kit().join("solution/src").join(file),
            root.join("submission").join(file),
        )
        .expect("copy a file");
    }
    make_old(&root.join("submission"));
    let results = run_autograder(&root, Path::new(GRADER));
    assert_graded(&results, max_score());
}

#[test]
fn gradescope_gives_zero_and_a_reason_for_what_is_not_a_crate() {
    let root = fake_autograder("not-a-crate");
    fs::write(root.join("submission/notes.txt"), "my answers\n").expect("write a file");
    let results = run_autograder(&root, Path::new(GRADER));
    assert_eq!(results["score"], 0, "{results:#}");
    assert_eq!(results["max_score"], max_score(), "{results:#}");
    assert_eq!(results["tests"].as_array().map(Vec::len), Some(0));
    let output = results["output"].as_str().expect("output");
    assert!(output.contains("could not be graded"), "{output}");
    assert!(output.contains("Cargo.toml"), "{output}");
}

#[test]
fn gradescope_gives_zero_and_a_reason_when_the_grader_is_missing() {
    let root = fake_autograder("no-grader");
    copy_dir(skeleton(), &root.join("submission"));
    let missing = root.join("no-such-grader");
    let results = run_autograder(&root, &missing);
    assert_eq!(results["score"], 0, "{results:#}");
    let output = results["output"].as_str().expect("output");
    assert!(output.contains("not installed"), "{output}");
    assert!(output.contains(&missing.display().to_string()), "{output}");
}

// ---------------------------------------------------------------------------
// GitHub Classroom and GitLab

/// The file parsed as YAML by python3, as JSON; `None` when python3 or its
/// yaml module is missing (then only the text assertions run).
fn yaml(path: &Path) -> Option<serde_json::Value> {
    let available = Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        eprintln!(
            "python3 with yaml not found: {} checked as text only",
            path.display()
        );
        return None;
    }
    let run = Run::new(
        Command::new("python3")
            .args([
                "-c",
                "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1])), default=str))",
            ])
            .arg(path),
    );
    assert!(
        run.output.status.success(),
        "{} is not valid YAML\n{}",
        path.display(),
        run.explain()
    );
    Some(run.json())
}

/// The graded steps of a Classroom workflow, read as text:
/// (id, command, max-score).
fn classroom_steps(text: &str) -> Vec<(String, String, u32)> {
    let mut steps = Vec::new();
    for block in text.split("\n      - name: ").skip(1) {
        let field = |key: &str| -> Option<String> {
            block.lines().find_map(|line| {
                line.trim()
                    .strip_prefix(key)
                    .map(|value| value.trim().to_owned())
            })
        };
        if let (Some(id), Some(command), Some(points)) =
            (field("id:"), field("command:"), field("max-score:"))
        {
            steps.push((id, command, points.parse().expect("points")));
        }
    }
    steps
}

/// The structure every Classroom workflow must have, from its YAML: its
/// graded steps `ids`, worth `lab`'s points in all.
fn assert_classroom_structure(lab: Lab, workflow: &serde_json::Value, ids: &[String]) {
    let job = &workflow["jobs"]["run-autograding-tests"];
    let steps = job["steps"].as_array().expect("steps");
    let graded: Vec<&serde_json::Value> = steps
        .iter()
        .filter(|step| {
            step["uses"].as_str().is_some_and(|uses| {
                uses.starts_with("classroom-resources/autograding-command-grader@")
            })
        })
        .collect();
    let graded_ids: Vec<&str> = graded.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(graded_ids, ids);
    let points: u64 = graded
        .iter()
        .map(|step| step["with"]["max-score"].as_u64().expect("a max-score"))
        .sum();
    let lab_points: u64 = lab
        .checks()
        .iter()
        .map(|check| u64::from(check.points))
        .sum();
    assert_eq!(points, lab_points);
    let reporter = steps.last().expect("a last step");
    assert!(
        reporter["uses"].as_str().is_some_and(
            |uses| uses.starts_with("classroom-resources/autograding-grading-reporter@")
        )
    );
    assert_eq!(reporter["with"]["runners"], ids.join(","));
    for id in ids {
        let key = format!("{}_RESULTS", id.to_uppercase());
        assert_eq!(
            reporter["env"][&key],
            format!("${{{{ steps.{id}.outputs.result }}}}"),
            "the reporter reads the result of step {id}"
        );
    }
}

/// How a Classroom step grades `lab`: `grader --dir . ` for lab 1, whose
/// workflows predate lab 2, `grader --lab room --dir . ` for lab 2.
fn grader_in_classroom(lab: Lab) -> String {
    match lab {
        Lab::Chat => "grader --dir .".to_owned(),
        Lab::Room => format!("grader --lab {} --dir .", lab.name()),
    }
}

/// The per-part workflow of each lab, with its file.
const PER_PART: [(Lab, &str); 2] = [
    (Lab::Chat, "classroom.yml"),
    (Lab::Room, "classroom-room.yml"),
];

/// The per-check workflow of each lab, with its file.
const PER_CHECK: [(Lab, &str); 2] = [
    (Lab::Chat, "classroom-per-check.yml"),
    (Lab::Room, "classroom-per-check-room.yml"),
];

#[test]
fn the_classroom_workflow_has_one_step_per_part_worth_its_points() {
    for (lab, file) in PER_PART {
        let path = util::kit().join("lab-docs/ci/github-classroom").join(file);
        let text = read(&path);
        let steps = classroom_steps(&text);
        let mut expected = Vec::new();
        for &part in lab.parts() {
            let points: u32 = lab
                .checks()
                .iter()
                .filter(|check| check.part == part)
                .map(|check| check.points)
                .sum();
            // A step's id names an environment variable of the reporter:
            // no `-` in it.
            expected.push((
                part.to_string().replace('-', "_"),
                format!("{} --part {part}", grader_in_classroom(lab)),
                points,
            ));
        }
        let mut sorted = steps.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(
            sorted, expected,
            "{file}: one step per part, with its points"
        );
        if let Some(workflow) = yaml(&path) {
            let ids: Vec<String> = steps.iter().map(|(id, _, _)| id.clone()).collect();
            assert_classroom_structure(lab, &workflow, &ids);
        }
    }
}

#[test]
fn the_per_check_classroom_workflow_is_what_the_script_makes_of_the_grader() {
    let dir = util::kit().join("lab-docs/ci/github-classroom");
    for (lab, file) in PER_CHECK {
        let mut script = Command::new("bash");
        script.arg(dir.join("make-per-check-workflow.sh"));
        if lab != Lab::Chat {
            script.args(["--lab", lab.name()]);
        }
        let output = Run::new(script.arg(GRADER)).assert_success().output;
        let path = dir.join(file);
        let committed = read(&path);
        let lab_option = if lab == Lab::Chat {
            String::new()
        } else {
            format!(" --lab {}", lab.name())
        };
        assert!(
            String::from_utf8_lossy(&output.stdout) == committed,
            "{file} is out of date: run \
             lab-docs/ci/github-classroom/make-per-check-workflow.sh{lab_option} > lab-docs/ci/github-classroom/{file}"
        );
        let steps = classroom_steps(&committed);
        let expected: Vec<(String, String, u32)> = lab
            .checks()
            .iter()
            .map(|check| {
                (
                    check.name.replace(['/', '-'], "_"),
                    format!("{} --check {}", grader_in_classroom(lab), check.name),
                    check.points,
                )
            })
            .collect();
        assert_eq!(
            steps, expected,
            "{file}: one step per check, with its points"
        );
        if let Some(workflow) = yaml(&path) {
            let ids: Vec<String> = steps.iter().map(|(id, _, _)| id.clone()).collect();
            assert_classroom_structure(lab, &workflow, &ids);
        }
    }
}

#[test]
fn the_gitlab_job_reports_junit_and_fails_when_a_check_fails() {
    let path = util::kit().join("lab-docs/ci/gitlab/.gitlab-ci.yml");
    let text = read(&path);
    let command = "grader --dir . --format junit --out grader-report.xml";
    let script_line = text
        .lines()
        .find(|line| line.contains(command))
        .unwrap_or_else(|| panic!("the job runs `{command}`"));
    assert!(
        !script_line.contains("||") && !script_line.contains("; true"),
        "the grader's exit status must fail the job: {script_line}"
    );
    assert!(
        text.contains("    reports:\n      junit: grader-report.xml\n"),
        "{text}"
    );
    assert!(
        text.contains("    when: always\n"),
        "the report is kept when the job fails"
    );
    if let Some(ci) = yaml(&path) {
        let job = &ci["grade"];
        assert_eq!(job["artifacts"]["reports"]["junit"], "grader-report.xml");
        assert_eq!(job["artifacts"]["when"], "always");
        let script = job["script"].as_array().expect("a script");
        assert!(script.iter().any(|line| line == command), "{script:?}");
        let stages = ci["stages"].as_array().expect("stages");
        assert!(
            stages.contains(&job["stage"]),
            "the job's stage is declared"
        );
    }
}
