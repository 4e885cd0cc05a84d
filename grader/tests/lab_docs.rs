//! The lab text and the CI templates, held to the code they describe.
//!
//! - Every TODO of the generated skeleton has its step in `lab-docs/README.md`
//!   (a heading `### TODO N: ...`, in order, whose section names the file and
//!   the function), and the docs name no TODO that the code lacks.
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

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use grader::catalog::CHECKS;
use grader::model::Part;

fn kit_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the grader is in the kit's folder")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

fn lab_text() -> String {
    read(&kit_root().join("lab-docs/README.md"))
}

fn explain(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// This test binary's scratch folder, under the kit's target/ so that builds
/// in it are reused by the next run.
fn scratch() -> PathBuf {
    kit_root().join("target").join("lab-docs-test")
}

/// The students' crate, generated once per run from the current solution.
fn skeleton() -> &'static Path {
    static SKELETON: OnceLock<PathBuf> = OnceLock::new();
    SKELETON.get_or_init(|| {
        let out = scratch().join("skeleton");
        let _ = fs::remove_dir_all(&out);
        let output = Command::new(env!("CARGO"))
            .args(["run", "--quiet", "--package", "skeleton", "--", "--out"])
            .arg(&out)
            .current_dir(kit_root())
            .output()
            .expect("run the skeleton generator");
        assert!(output.status.success(), "{}", explain(&output));
        out
    })
}

// ---------------------------------------------------------------------------
// TODOs

/// A `// TODO N:` of the code: its number, file (relative to the crate) and
/// the function it is in.
#[derive(Debug)]
struct CodeTodo {
    number: u32,
    file: String,
    function: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("list a folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The TODOs of the `.rs` files under `crate_dir/src`.
fn code_todos(crate_dir: &Path) -> Vec<CodeTodo> {
    let mut files = Vec::new();
    rust_files(&crate_dir.join("src"), &mut files);
    let mut todos = Vec::new();
    for path in files {
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("// TODO ") else {
                continue;
            };
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() || !rest[digits.len()..].starts_with(':') {
                continue;
            }
            let function = lines[..index]
                .iter()
                .rev()
                .find_map(|line| function_name(line))
                .unwrap_or_else(|| panic!("TODO {digits} of {} is in no function", path.display()));
            todos.push(CodeTodo {
                number: digits.parse().expect("a TODO number"),
                file: path
                    .strip_prefix(crate_dir)
                    .expect("inside the crate")
                    .to_string_lossy()
                    .into_owned(),
                function,
            });
        }
    }
    todos.sort_by_key(|todo| todo.number);
    todos
}

/// The name of the function a line declares (`fn name(` or `fn name<`).
fn function_name(line: &str) -> Option<String> {
    let code = line.trim_start();
    let rest = code
        .strip_prefix("fn ")
        .or_else(|| code.split_once(" fn ").map(|(_, rest)| rest))?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let after = rest[name.len()..].chars().next();
    (!name.is_empty() && matches!(after, Some('(' | '<'))).then_some(name)
}

/// Every TODO number that a text refers to: `TODO 7`, `TODOs 1-3`,
/// `TODOs 4 to 7`, `TODOs 13 and 14`, `TODO 13, 15, 16`.
fn todo_refs(text: &str) -> BTreeSet<u32> {
    let mut numbers = BTreeSet::new();
    let mut search = 0;
    while let Some(found) = text[search..].find("TODO") {
        let start = search + found;
        search = start + 4;
        if text[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        let mut rest = &text[start + 4..];
        rest = rest.strip_prefix('s').unwrap_or(rest);
        let Some(mut rest) = rest.strip_prefix(' ') else {
            continue;
        };
        let Some((mut last, after)) = leading_number(rest) else {
            continue;
        };
        numbers.insert(last);
        rest = after;
        loop {
            let (range, after_sep) = if let Some(r) = rest.strip_prefix('-') {
                (true, r)
            } else if let Some(r) = rest.strip_prefix(" to ") {
                (true, r)
            } else if let Some(r) = rest.strip_prefix(", and ") {
                (false, r)
            } else if let Some(r) = rest.strip_prefix(" and ") {
                (false, r)
            } else if let Some(r) = rest.strip_prefix(", ") {
                (false, r)
            } else {
                break;
            };
            let Some((next, after)) = leading_number(after_sep) else {
                break;
            };
            if range {
                numbers.extend(last..=next);
            } else {
                numbers.insert(next);
            }
            last = next;
            rest = after;
        }
    }
    numbers
}

fn leading_number(text: &str) -> Option<(u32, &str)> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let number = text[..digits].parse().ok()?;
    Some((number, &text[digits..]))
}

/// The step headings of the lab text, `### TODO N: title`, in order:
/// (number, line index).
fn step_headings(lines: &[&str]) -> Vec<(u32, usize)> {
    let mut headings = Vec::new();
    let mut in_code = false;
    for (index, line) in lines.iter().enumerate() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim_start();
        if let Some(rest) = title.strip_prefix("TODO ")
            && let Some((number, after)) = leading_number(rest)
        {
            assert!(
                after.starts_with(": "),
                "a step heading is `### TODO N: title`: {line:?}"
            );
            headings.push((number, index));
        }
    }
    headings
}

/// The text under the heading at `index`, up to the next heading.
fn section(lines: &[&str], index: usize) -> String {
    let mut text = String::new();
    let mut in_code = false;
    for line in &lines[index + 1..] {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            break;
        }
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[test]
fn every_todo_of_the_skeleton_has_its_step_in_the_lab_text_in_order() {
    let todos = code_todos(skeleton());
    let numbers: Vec<u32> = todos.iter().map(|todo| todo.number).collect();
    assert!(!numbers.is_empty(), "no TODO found in the skeleton");
    // The skeleton and the solution agree (the generator keeps the comments).
    let solution_numbers: Vec<u32> = code_todos(&kit_root().join("solution"))
        .iter()
        .map(|todo| todo.number)
        .collect();
    assert_eq!(numbers, solution_numbers);

    let text = lab_text();
    let lines: Vec<&str> = text.lines().collect();
    let headings = step_headings(&lines);
    let heading_numbers: Vec<u32> = headings.iter().map(|(number, _)| *number).collect();
    assert_eq!(
        heading_numbers, numbers,
        "lab-docs/README.md needs one heading `### TODO N: ...` per TODO of the code, in order"
    );
    for ((number, index), todo) in headings.iter().zip(&todos) {
        let body = section(&lines, *index);
        assert!(
            body.contains(&todo.file),
            "the step of TODO {number} does not name its file {}:\n{body}",
            todo.file
        );
        assert!(
            contains_word(&body, &todo.function),
            "the step of TODO {number} does not name its function {}:\n{body}",
            todo.function
        );
    }
}

#[test]
fn the_docs_refer_to_no_todo_that_the_code_lacks() {
    let known: BTreeSet<u32> = code_todos(&kit_root().join("solution"))
        .iter()
        .map(|todo| todo.number)
        .collect();
    for name in ["README.md", "protocol.md", "instructors.md"] {
        let refs = todo_refs(&read(&kit_root().join("lab-docs").join(name)));
        let unknown: Vec<&u32> = refs.difference(&known).collect();
        assert!(
            unknown.is_empty(),
            "lab-docs/{name} refers to TODOs {unknown:?}, which the code does not have"
        );
    }
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
    walk(&kit_root().join("lab-docs"), &mut files);
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
// Grader options used in commands

fn grader_help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_grader"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run the grader");
    assert!(output.status.success(), "{}", explain(&output));
    String::from_utf8(output.stdout).expect("UTF-8 help")
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

/// The command lines of a doc: the lines of its fenced code blocks (of a
/// Markdown page) or all its lines (of a script or a CI file), with line
/// continuations joined and comments removed.
fn command_lines(path: &Path, text: &str) -> Vec<String> {
    let markdown = path.extension().is_some_and(|ext| ext == "md");
    let mut lines = Vec::new();
    let mut in_code = false;
    let mut in_picture = false;
    let mut pending = String::new();
    for line in text.lines() {
        if markdown && line.starts_with("```") {
            in_code = !in_code;
            in_picture = in_code && line == "```mermaid";
            continue;
        }
        if markdown && (!in_code || in_picture) {
            continue;
        }
        let line = match line.find(" #") {
            Some(at) => &line[..at],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        lines.push(std::mem::take(&mut pending));
    }
    lines
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
/// command and of `batch`, the parts, the checks and the formats.
struct GraderOptions {
    main_help: String,
    main: BTreeSet<String>,
    batch: BTreeSet<String>,
    parts: BTreeSet<String>,
    checks: BTreeSet<&'static str>,
}

impl GraderOptions {
    fn new() -> Self {
        let main_help = grader_help(&[]);
        let main = options_of(&main_help);
        let batch = options_of(&grader_help(&["batch"]));
        assert!(main.contains("--dir") && batch.contains("--reports"));
        Self {
            main_help,
            main,
            batch,
            parts: Part::ALL.iter().map(|part| part.to_string()).collect(),
            checks: CHECKS.iter().map(|check| check.name).collect(),
        }
    }

    /// Panics, naming `where_`, if `call` uses an option, a part, a check
    /// or a format that the grader does not have.
    fn assert_valid(&self, call: &GraderCall, where_: &str) {
        let formats = ["human", "json", "junit", "tap"];
        let allowed = match call.subcommand.as_deref() {
            None => &self.main,
            Some("batch") => &self.batch,
            Some("reference-server" | "reference-client") => {
                assert!(
                    call.args.iter().all(|arg| !arg.starts_with('-')),
                    "the reference peers take no options: {where_}"
                );
                return;
            }
            Some(other) => {
                // Not a subcommand: an argument of something else, such as
                // a path given to `install`.
                assert!(
                    !self.main_help.contains(&format!("  {other} ")),
                    "{other} is a subcommand not checked here: {where_}"
                );
                return;
            }
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
            let Some(value) = value.filter(|v| !v.starts_with('$')) else {
                continue;
            };
            match option {
                "--part" => assert!(self.parts.contains(&value), "no part {value}: {where_}"),
                "--check" => assert!(
                    self.checks.contains(value.as_str()),
                    "no check {value}: {where_}"
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
    assert!(grader_calls("cargo test -p grader --test lab_docs").is_empty());
    assert!(grader_calls("cargo build --release -p grader").is_empty());
    let calls = grader_calls(r#"timeout 9 "$GRADER" --dir "$CRATE" --format json"#);
    assert_eq!(calls[0].args, ["--dir", "\"$CRATE\"", "--format", "json"]);
    let calls = grader_calls("command: grader --dir . --part wrapper");
    assert_eq!(calls[0].args, ["--dir", ".", "--part", "wrapper"]);
}

// ---------------------------------------------------------------------------
// Links and pictures

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            anchors.insert(anchor(line.trim_start_matches('#')));
        }
    }
    anchors
}

/// The targets of the Markdown links `[text](target)` of a text.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_owned());
            }
        }
    }
    targets
}

#[test]
fn links_between_the_docs_point_at_files_and_headings_that_exist() {
    let docs = kit_root().join("lab-docs");
    let pages = ["README.md", "protocol.md", "instructors.md"];
    let mut checked = 0;
    for page in pages {
        let text = read(&docs.join(page));
        for target in link_targets(&text) {
            if target.starts_with("http") {
                continue;
            }
            let (file, fragment) = match target.split_once('#') {
                Some((file, fragment)) => (file, Some(fragment)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                docs.join(page)
            } else {
                docs.join(file)
            };
            assert!(
                path.exists(),
                "lab-docs/{page} links to {target}: no such file"
            );
            if let Some(fragment) = fragment {
                assert!(
                    anchors(&read(&path)).contains(fragment),
                    "lab-docs/{page} links to {target}: no such heading"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} links checked");

    let root = read(&kit_root().join("README.md"));
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
    read(&kit_root().join("Makefile"))
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

/// The inline code of a Markdown cell or line.
fn inline_code(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_lab_texts_commands_have_their_form_for_the_crate_alone() {
    let text = lab_text();
    let path = kit_root().join("lab-docs/README.md");
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
    files.push(kit_root().join("skeleton/STUDENT_README.md"));
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

/// One grading at a time: the timing checks need a machine that is not
/// grading something else.
static GRADING: Mutex<()> = Mutex::new(());

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create a folder");
    for entry in fs::read_dir(from).expect("list a folder") {
        let entry = entry.expect("a folder entry");
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// A fake `/autograder` tree for `case`, with an empty `submission/`.
fn fake_autograder(case: &str) -> PathBuf {
    let root = scratch().join(format!("autograder-{case}"));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("submission")).expect("create the fake tree");
    root
}

/// Runs the Gradescope script in the fake tree; returns its results.json.
fn run_autograder(root: &Path, grader: &Path) -> serde_json::Value {
    let _one_at_a_time = GRADING.lock().unwrap_or_else(|err| err.into_inner());
    let output = Command::new("bash")
        .arg(kit_root().join("lab-docs/ci/gradescope/run_autograder"))
        .env("AUTOGRADER_ROOT", root)
        .env("KIT_DIR", kit_root())
        .env("GRADER", grader)
        .env("SKELETON_DIR", skeleton())
        .env("CARGO_TARGET_DIR", scratch().join("build"))
        .output()
        .expect("run run_autograder");
    assert!(output.status.success(), "{}", explain(&output));
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

/// Sets the modification time of every file under `dir` to 2020: a
/// submission written before the last build in the shared build folder.
fn make_old(dir: &Path) {
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    for entry in fs::read_dir(dir).expect("list a folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            make_old(&path);
        } else {
            fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(old))
                .unwrap_or_else(|err| panic!("set the time of {}: {err}", path.display()));
        }
    }
}

/// The skeleton, then the solution whose files are older than the
/// skeleton's build, in the same build folder: cargo must not take the
/// skeleton's binaries for the solution's.
#[test]
fn gradescope_gives_the_skeleton_zero_and_the_solution_full_marks() {
    let root = fake_autograder("skeleton");
    copy_dir(skeleton(), &root.join("submission"));
    let results = run_autograder(&root, Path::new(env!("CARGO_BIN_EXE_grader")));
    assert_graded(&results, 0);

    let root = fake_autograder("solution");
    let crate_dir = root.join("submission");
    copy_dir(skeleton(), &crate_dir);
    copy_dir(&kit_root().join("solution/src"), &crate_dir.join("src"));
    make_old(&crate_dir);
    let results = run_autograder(&root, Path::new(env!("CARGO_BIN_EXE_grader")));
    assert_graded(&results, max_score());
}

#[test]
fn gradescope_grades_the_files_with_todos_alone_in_the_skeleton() {
    let root = fake_autograder("files");
    for file in ["w_epoll.rs", "client.rs", "server.rs"] {
        fs::copy(
            kit_root().join("solution/src").join(file),
            root.join("submission").join(file),
        )
        .expect("copy a file");
    }
    make_old(&root.join("submission"));
    let results = run_autograder(&root, Path::new(env!("CARGO_BIN_EXE_grader")));
    assert_graded(&results, max_score());
}

#[test]
fn gradescope_gives_zero_and_a_reason_for_what_is_not_a_crate() {
    let root = fake_autograder("not-a-crate");
    fs::write(root.join("submission/notes.txt"), "my answers\n").expect("write a file");
    let results = run_autograder(&root, Path::new(env!("CARGO_BIN_EXE_grader")));
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
    let output = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1])), default=str))",
        ])
        .arg(path)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{} is not valid YAML\n{}",
        path.display(),
        explain(&output)
    );
    Some(serde_json::from_slice(&output.stdout).expect("JSON from python3"))
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

/// The structure both Classroom workflows must have, from their YAML.
fn assert_classroom_structure(workflow: &serde_json::Value, ids: &[String]) {
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
    assert_eq!(points, max_score());
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

#[test]
fn the_classroom_workflow_has_one_step_per_part_worth_its_points() {
    let path = kit_root().join("lab-docs/ci/github-classroom/classroom.yml");
    let text = read(&path);
    let steps = classroom_steps(&text);
    let mut expected = Vec::new();
    for part in Part::ALL {
        let points: u32 = CHECKS
            .iter()
            .filter(|check| check.part == part)
            .map(|check| check.points)
            .sum();
        expected.push((
            part.to_string(),
            format!("grader --dir . --part {part}"),
            points,
        ));
    }
    let mut sorted = steps.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "one step per part, with its points");
    if let Some(workflow) = yaml(&path) {
        let ids: Vec<String> = steps.iter().map(|(id, _, _)| id.clone()).collect();
        assert_classroom_structure(&workflow, &ids);
    }
}

#[test]
fn the_per_check_classroom_workflow_is_what_the_script_makes_of_the_grader() {
    let dir = kit_root().join("lab-docs/ci/github-classroom");
    let output = Command::new("bash")
        .arg(dir.join("make-per-check-workflow.sh"))
        .arg(env!("CARGO_BIN_EXE_grader"))
        .output()
        .expect("run make-per-check-workflow.sh");
    assert!(output.status.success(), "{}", explain(&output));
    let path = dir.join("classroom-per-check.yml");
    let committed = read(&path);
    assert!(
        String::from_utf8_lossy(&output.stdout) == committed,
        "classroom-per-check.yml is out of date: run \
         lab-docs/ci/github-classroom/make-per-check-workflow.sh > lab-docs/ci/github-classroom/classroom-per-check.yml"
    );
    let steps = classroom_steps(&committed);
    let expected: Vec<(String, String, u32)> = CHECKS
        .iter()
        .map(|check| {
            (
                check.name.replace(['/', '-'], "_"),
                format!("grader --dir . --check {}", check.name),
                check.points,
            )
        })
        .collect();
    assert_eq!(steps, expected, "one step per check, with its points");
    if let Some(workflow) = yaml(&path) {
        let ids: Vec<String> = steps.iter().map(|(id, _, _)| id.clone()).collect();
        assert_classroom_structure(&workflow, &ids);
    }
}

#[test]
fn the_gitlab_job_reports_junit_and_fails_when_a_check_fails() {
    let path = kit_root().join("lab-docs/ci/gitlab/.gitlab-ci.yml");
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
