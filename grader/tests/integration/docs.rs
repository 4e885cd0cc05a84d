//! Reading the labs' texts and the code they describe, written once for
//! the modules that hold a lab's text to its code: [`lab_docs`] (lab 1,
//! `lab-docs/README.md`, and the kit's other texts) and [`room_docs`]
//! (lab 2, `lab-docs/room.md`).
//!
//! What differs between the labs is a parameter: the lab whose TODOs to
//! take (a source file's `// LAB N` line, or 1), the checks of a table,
//! what looks like a check's name.
//!
//! [`lab_docs`]: crate::lab_docs
//! [`room_docs`]: crate::room_docs

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use grader::catalog::Check;

use crate::util::{self, read};

// ---------------------------------------------------------------------------
// TODOs and labs

/// A `// TODO N:` of the code: its number, its file's lab, its file
/// (relative to the crate), the function it is in, and the first words of
/// its text.
#[derive(Debug)]
pub struct CodeTodo {
    pub number: u32,
    pub lab: u32,
    pub file: String,
    pub function: String,
    pub words: String,
}

/// The `.rs` files under `dir`, added to `out`.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("list a folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The lab of a source file, as the generator reads it: its `// LAB N`
/// line, or 1.
pub fn lab_of(source: &str) -> u32 {
    source
        .lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("// LAB ")?;
            let (number, _) = leading_number(rest)?;
            Some(number)
        })
        .unwrap_or(1)
}

/// The TODOs of the `.rs` files under `crate_dir/src`, of every lab, by
/// number.
pub fn code_todos(crate_dir: &Path) -> Vec<CodeTodo> {
    let mut files = Vec::new();
    rust_files(&crate_dir.join("src"), &mut files);
    let mut todos = Vec::new();
    for path in files {
        let text = read(&path);
        let lab = lab_of(&text);
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("// TODO ") else {
                continue;
            };
            let Some((number, after)) = leading_number(rest) else {
                continue;
            };
            let Some(words) = after.strip_prefix(':') else {
                continue;
            };
            let function = lines[..index]
                .iter()
                .rev()
                .find_map(|line| function_name(line))
                .unwrap_or_else(|| panic!("TODO {number} of {} is in no function", path.display()));
            todos.push(CodeTodo {
                number,
                lab,
                file: path
                    .strip_prefix(crate_dir)
                    .expect("inside the crate")
                    .to_string_lossy()
                    .into_owned(),
                function,
                words: first_words(words),
            });
        }
    }
    todos.sort_by_key(|todo| todo.number);
    todos
}

/// The TODOs of lab `lab` (of the files that say `// LAB lab`, or of the
/// files that say no lab for lab 1), by number.
pub fn lab_todos(crate_dir: &Path, lab: u32) -> Vec<CodeTodo> {
    code_todos(crate_dir)
        .into_iter()
        .filter(|todo| todo.lab == lab)
        .collect()
}

/// The files of lab `lab` that hold TODOs, and their TODO numbers.
pub fn todos_by_file(crate_dir: &Path, lab: u32) -> BTreeMap<String, BTreeSet<u32>> {
    let mut files: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for todo in lab_todos(crate_dir, lab) {
        files.entry(todo.file).or_default().insert(todo.number);
    }
    files
}

/// The first four words of a TODO's text: enough to tell it from the others,
/// and left alone when its comment is wrapped anew.
fn first_words(text: &str) -> String {
    text.split_whitespace()
        .take(4)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The name of the function a line declares (`fn name(` or `fn name<`).
pub fn function_name(line: &str) -> Option<String> {
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

// ---------------------------------------------------------------------------
// Mentions of TODO numbers

/// `text` after its spaces; across a line break too, with the next line's
/// indentation and comment marker (`///`, `//`, `#`), so that a mention
/// wrapped onto two lines of a comment is read whole.
fn skip_space(text: &str) -> &str {
    let mut rest = text.trim_start_matches([' ', '\t']);
    if let Some(next) = rest.strip_prefix('\n') {
        rest = next.trim_start_matches([' ', '\t']);
        for marker in ["///", "//", "#"] {
            if let Some(after) = rest.strip_prefix(marker) {
                rest = after;
                break;
            }
        }
        rest = rest.trim_start_matches([' ', '\t']);
    }
    rest
}

/// `text` after `word` and the spaces after it, if it starts with them.
fn after_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(word)?;
    let after = skip_space(rest);
    (after.len() < rest.len()).then_some(after)
}

/// The TODO numbers at the start of `text`, in every form the docs use:
/// `7`, `1-3`, `4 to 7`, `13 and 14`, `13, 15, 16`, `12, 14 and 15`,
/// `12, 14-15`; and how many bytes they take.
pub fn number_list(text: &str) -> Option<(BTreeSet<u32>, usize)> {
    let (mut last, mut rest) = leading_number(text)?;
    let mut numbers = BTreeSet::from([last]);
    loop {
        let (range, after) = if let Some(after) = rest.strip_prefix('-') {
            (true, after)
        } else {
            let (comma, after) = match rest.strip_prefix(',') {
                Some(after) => (true, after),
                None => (false, rest),
            };
            let spaced = skip_space(after);
            if spaced.len() == after.len() {
                break;
            }
            if let Some(after) = after_word(spaced, "to") {
                (true, after)
            } else if let Some(after) = after_word(spaced, "and") {
                (false, after)
            } else if comma {
                (false, spaced)
            } else {
                break;
            }
        };
        let Some((next, after)) = leading_number(after) else {
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
    Some((numbers, text.len() - rest.len()))
}

/// Every mention of TODO numbers in a text (`TODO 7`, `TODOs 1-3`,
/// `TODOs 4 to 7`, `TODOs 13 and 14`, `TODO 13, 15, 16`, also wrapped onto
/// two lines): where it starts, as written, and the numbers.
pub fn todo_mentions(text: &str) -> Vec<(usize, String, BTreeSet<u32>)> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices("TODO") {
        if text[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        let rest = &text[start + 4..];
        let rest = rest.strip_prefix('s').unwrap_or(rest);
        let spaced = skip_space(rest);
        if spaced.len() == rest.len() {
            continue;
        }
        let Some((numbers, used)) = number_list(spaced) else {
            continue;
        };
        let end = text.len() - spaced.len() + used;
        found.push((start, text[start..end].to_owned(), numbers));
    }
    found
}

/// Every TODO number that a text refers to.
pub fn todo_refs(text: &str) -> BTreeSet<u32> {
    todo_mentions(text)
        .into_iter()
        .flat_map(|(_, _, numbers)| numbers)
        .collect()
}

/// A mention of TODO numbers in a file, with where it is.
pub struct Mention {
    /// `file:line`, as a failure names it.
    pub place: String,
    /// Its line, from 1.
    pub line_number: usize,
    /// Where it starts in the file's text.
    pub at: usize,
    /// The mention as written.
    pub written: String,
    pub numbers: BTreeSet<u32>,
    /// The whole line it starts on.
    pub line: String,
}

/// The mentions of TODO numbers of `text`, the text of `file`.
pub fn mentions(file: &str, text: &str) -> Vec<Mention> {
    todo_mentions(text)
        .into_iter()
        .map(|(at, written, numbers)| {
            let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            let line_number = text[..at].matches('\n').count() + 1;
            Mention {
                place: format!("{file}:{line_number}"),
                line_number,
                at,
                written,
                numbers,
                line: text[start..end].to_owned(),
            }
        })
        .collect()
}

pub fn leading_number(text: &str) -> Option<(u32, &str)> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let number = text[..digits].parse().ok()?;
    Some((number, &text[digits..]))
}

/// A set of TODO numbers as the docs write it: `1-3`, `13, 16`, `12, 14-15`.
pub fn written_todos(numbers: &BTreeSet<u32>) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &number in numbers {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == number => *end = number,
            _ => runs.push((number, number)),
        }
    }
    runs.iter()
        .map(|&(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The numbers written right before `word` in a line (`16 TODOs`,
/// `16 numbered TODOs`, `41 checks`, `256 slots`).
pub fn counts_before(line: &str, word: &str) -> Vec<u64> {
    line.match_indices(word)
        .filter(|(at, _)| {
            let after = line[at + word.len()..].chars().next();
            !after.is_some_and(char::is_alphanumeric)
        })
        .filter_map(|(at, _)| {
            let mut words = line[..at].split_whitespace().rev();
            let mut previous = words.next()?;
            if previous == "numbered" {
                previous = words.next()?;
            }
            previous.parse().ok()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Steps and sections

/// The lines of a Markdown text outside its fenced code blocks (the fence
/// lines left out too), each with its index among all the lines.
pub fn prose_lines<'t>(
    lines: impl IntoIterator<Item = &'t str>,
) -> impl Iterator<Item = (usize, &'t str)> {
    let mut in_code = false;
    lines.into_iter().enumerate().filter(move |(_, line)| {
        if line.starts_with("```") {
            in_code = !in_code;
            return false;
        }
        !in_code
    })
}

/// The step headings of a lab text, `### TODO N: title`, in order:
/// (number, line index).
pub fn step_headings(lines: &[&str]) -> Vec<(u32, usize)> {
    let mut headings = Vec::new();
    for (index, line) in prose_lines(lines.iter().copied()) {
        if !line.starts_with('#') {
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
pub fn section(lines: &[&str], index: usize) -> String {
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

/// Asserts that `text`, the lab text `name`, has one step heading per TODO
/// of `todos`, in order and no other, each naming its TODO's file and
/// function; `why` says where `todos` come from.
pub fn assert_steps_follow_todos(name: &str, text: &str, todos: &[CodeTodo], why: &str) {
    let numbers: Vec<u32> = todos.iter().map(|todo| todo.number).collect();
    let lines: Vec<&str> = text.lines().collect();
    let headings = step_headings(&lines);
    let heading_numbers: Vec<u32> = headings.iter().map(|(number, _)| *number).collect();
    assert_eq!(
        heading_numbers, numbers,
        "{name} needs one heading `### TODO N: ...` per TODO of {why}, in order, and none \
         for another lab's"
    );
    for ((number, index), todo) in headings.iter().zip(todos) {
        let body = section(&lines, *index);
        assert!(
            body.contains(&todo.file),
            "{name}: the step of TODO {number} does not name its file {}:\n{body}",
            todo.file
        );
        assert!(
            contains_word(&body, &todo.function),
            "{name}: the step of TODO {number} does not name its function {}:\n{body}",
            todo.function
        );
    }
}

/// Whether `text` holds `word` as a word of code (not inside a longer
/// identifier).
pub fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// The inline code of a Markdown text, cell or line.
pub fn inline_code(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The command lines of a doc: the lines of its fenced code blocks (of a
/// Markdown page, Mermaid pictures left out) or all its lines (of a script
/// or a CI file), with line continuations joined and comments removed.
pub fn command_lines(path: &Path, text: &str) -> Vec<String> {
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

// ---------------------------------------------------------------------------
// Checks

/// Where a lab text says each check's behaviour lives: the TODO of every
/// step whose `**Checks:**` bullet names it, and every TODO of a part whose
/// introduction's `**Checks.**` paragraph names it. A check is named in
/// inline code that `is_name` takes for the name of a check. The steps'
/// headings are held to the code's TODOs, so this relation follows a
/// renumbering.
pub fn todos_of_checks(
    text: &str,
    is_name: impl Fn(&str) -> bool,
) -> BTreeMap<String, BTreeSet<u32>> {
    let mut lives: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut parts: Vec<(Vec<u32>, BTreeSet<String>)> = Vec::new();
    let mut in_part = false;
    let mut step = None;
    let mut in_checks = false;
    for (_, line) in prose_lines(text.lines()) {
        if line.starts_with('#') {
            let title = line.trim_start_matches('#').trim_start();
            if line.starts_with("## ") {
                in_part = title.starts_with("Part ");
                if in_part {
                    parts.push((Vec::new(), BTreeSet::new()));
                }
            }
            step = title
                .strip_prefix("TODO ")
                .and_then(leading_number)
                .map(|(number, _)| number)
                .filter(|_| in_part);
            if let (Some(number), Some(part)) = (step, parts.last_mut()) {
                part.0.push(number);
            }
            in_checks = false;
            continue;
        }
        if !in_part {
            continue;
        }
        match step {
            Some(_) if line.starts_with("- ") => in_checks = line.starts_with("- **Checks:**"),
            Some(_) if !line.starts_with("  ") => in_checks = false,
            None if line.starts_with("**Checks.**") => in_checks = true,
            None if line.trim().is_empty() => in_checks = false,
            _ => {}
        }
        if !in_checks {
            continue;
        }
        for name in inline_code(line).into_iter().filter(|code| is_name(code)) {
            match step {
                Some(number) => {
                    lives.entry(name).or_default().insert(number);
                }
                None => {
                    parts.last_mut().expect("in a part").1.insert(name);
                }
            }
        }
    }
    for (steps, names) in parts {
        for name in names {
            lives.entry(name).or_default().extend(&steps);
        }
    }
    lives
}

/// The rows of a lab text's table of checks, for the checks of `checks`:
/// check name, line (1-based) and cells.
pub fn check_table(text: &str, checks: &[Check]) -> BTreeMap<String, (usize, Vec<String>)> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let cells: Vec<String> = line
                .strip_prefix("| `")?
                .split(" | ")
                .map(|cell| cell.trim().trim_end_matches('|').trim().to_owned())
                .collect();
            let name = cells[0].strip_suffix('`')?.to_owned();
            checks
                .iter()
                .any(|check| check.name == name)
                .then_some((name, (index + 1, cells)))
        })
        .collect()
}

/// The line (1-based) of `grader/src/catalog.rs` that gives `field` of the
/// check `name`.
pub fn catalog_line(name: &str, field: &str) -> usize {
    let source = read(&util::kit().join("grader/src/catalog.rs"));
    let lines: Vec<&str> = source.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.trim() == format!("name: \"{name}\","))
        .unwrap_or_else(|| panic!("catalog.rs has no entry named {name}"));
    start
        + lines[start..]
            .iter()
            .position(|line| line.trim_start().starts_with(&format!("{field}:")))
            .unwrap_or(0)
        + 1
}

// ---------------------------------------------------------------------------
// Links

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// as hyphens.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown text's headings.
pub fn anchors(text: &str) -> BTreeSet<String> {
    prose_lines(text.lines())
        .filter(|(_, line)| line.starts_with('#'))
        .map(|(_, line)| anchor(line.trim_start_matches('#')))
        .collect()
}

/// The targets of the Markdown links `[text](target)` of a text.
pub fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for (_, line) in prose_lines(text.lines()) {
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_owned());
            }
        }
    }
    targets
}

/// Asserts that every link of `lab-docs/PAGE` but those to the web points
/// at a file, and at a heading of it, that exist; returns how many it
/// checked.
pub fn assert_links_exist(page: &str) -> usize {
    let docs = util::kit().join("lab-docs");
    let mut checked = 0;
    for target in link_targets(&read(&docs.join(page))) {
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
    checked
}
