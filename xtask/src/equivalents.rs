//! The reviewed list of equivalent mutants: `grader/mutants-equivalent.toml`.
//!
//! A mutant the grader misses is either a check that is missing, or a
//! mutation that changes no behaviour anyone can observe. The second kind
//! is written down here, once, by a person, with the reason; the report is
//! regenerated from it on every run.
//!
//! ```toml
//! [[equivalent]]
//! file = "solution/src/server.rs"
//! mutation = "replace > with >= in Clients::broadcast"
//! line = 392   # only when the mutation alone names several mutants
//! column = 27   # only when several of them share that line too
//! reason = "one line why no observable behaviour changes"
//! ```
//!
//! An entry is named by its file and mutation rather than by cargo-mutants'
//! full name, which carries a line and column that move whenever code above
//! changes.

use std::path::Path;

use anyhow::{Context, Result, bail};
use toml_edit::{DocumentMut, Item, Table};

/// One reviewed equivalent mutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equivalent {
    pub file: String,
    pub mutation: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub reason: String,
}

impl Equivalent {
    /// Whether this entry names the mutant at `file:line:column` with
    /// `mutation`.
    pub fn names(&self, file: &str, (line, column): (usize, usize), mutation: &str) -> bool {
        self.file == file
            && self.mutation == mutation
            && self.line.is_none_or(|l| l == line)
            && self.column.is_none_or(|c| c == column)
    }

    /// How the entry is shown in messages.
    pub fn label(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                format!("{}:{line}:{column}: {}", self.file, self.mutation)
            }
            (Some(line), None) => format!("{}:{line}: {}", self.file, self.mutation),
            _ => format!("{}: {}", self.file, self.mutation),
        }
    }
}

/// Reads the list; a missing file is an empty list.
pub fn read(path: &Path) -> Result<Vec<Equivalent>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).with_context(|| format!("in {}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn parse(text: &str) -> Result<Vec<Equivalent>> {
    let document: DocumentMut = text.parse().context("not TOML")?;
    for (key, _) in document.iter() {
        if key != "equivalent" {
            bail!("unknown key `{key}`: the entries are `[[equivalent]]` tables");
        }
    }
    let Some(item) = document.get("equivalent") else {
        return Ok(Vec::new());
    };
    let Some(tables) = item.as_array_of_tables() else {
        bail!("`equivalent` must be a list of tables, each written `[[equivalent]]`");
    };
    tables
        .iter()
        .enumerate()
        .map(|(index, table)| {
            entry(table).with_context(|| format!("in the [[equivalent]] number {}", index + 1))
        })
        .collect()
}

fn entry(table: &Table) -> Result<Equivalent> {
    for (key, _) in table.iter() {
        if !["file", "mutation", "line", "column", "reason"].contains(&key) {
            bail!(
                "unknown key `{key}`: an entry has file, mutation, line and column (optional) and reason"
            );
        }
    }
    let text = |key: &str| -> Result<String> {
        match table.get(key).and_then(Item::as_str) {
            Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
            _ => bail!("`{key}` is missing or empty"),
        }
    };
    let position = |key: &str| -> Result<Option<usize>> {
        match table.get(key) {
            None => Ok(None),
            Some(item) => match item.as_integer().and_then(|n| usize::try_from(n).ok()) {
                Some(n) if n > 0 => Ok(Some(n)),
                _ => bail!("`{key}` must be a {key} number, from 1"),
            },
        }
    };
    let (line, column) = (position("line")?, position("column")?);
    if column.is_some() && line.is_none() {
        bail!("`column` needs `line`");
    }
    let reason = text("reason")?;
    if reason.contains('\n') {
        bail!("`reason` must be one line");
    }
    Ok(Equivalent {
        file: text("file")?,
        mutation: text("mutation")?,
        line,
        column,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_and_without_a_line() {
        let list = parse(
            r#"
# Reviewed.
[[equivalent]]
file = "solution/src/server.rs"
mutation = "replace > with >= in Clients::broadcast"
line = 392
reason = "the queue is never empty here"

[[equivalent]]
file = "solution/src/client.rs"
mutation = "replace == with != in Session::send_input"
reason = "both branches write the line"
"#,
        )
        .expect("a valid list");
        assert_eq!(
            list,
            [
                Equivalent {
                    file: "solution/src/server.rs".into(),
                    mutation: "replace > with >= in Clients::broadcast".into(),
                    line: Some(392),
                    column: None,
                    reason: "the queue is never empty here".into(),
                },
                Equivalent {
                    file: "solution/src/client.rs".into(),
                    mutation: "replace == with != in Session::send_input".into(),
                    line: None,
                    column: None,
                    reason: "both branches write the line".into(),
                },
            ]
        );
        assert!(list[0].names(
            "solution/src/server.rs",
            (392, 27),
            "replace > with >= in Clients::broadcast"
        ));
        assert!(!list[0].names(
            "solution/src/server.rs",
            (385, 27),
            "replace > with >= in Clients::broadcast"
        ));
        assert!(list[1].names(
            "solution/src/client.rs",
            (7, 1),
            "replace == with != in Session::send_input"
        ));
        assert!(!list[1].names(
            "solution/src/server.rs",
            (7, 1),
            "replace == with != in Session::send_input"
        ));
    }

    #[test]
    fn an_empty_file_is_an_empty_list() {
        assert_eq!(parse("# nothing yet\n").expect("valid"), []);
    }

    fn error_of(text: &str) -> String {
        format!("{:#}", parse(text).expect_err("an invalid list"))
    }

    #[test]
    fn an_entry_without_its_reason_is_refused() {
        assert_eq!(
            error_of("[[equivalent]]\nfile = \"a.rs\"\nmutation = \"m\"\n"),
            "in the [[equivalent]] number 1: `reason` is missing or empty"
        );
        assert_eq!(
            error_of("[[equivalent]]\nfile = \"a.rs\"\nmutation = \"m\"\nreason = \"  \"\n"),
            "in the [[equivalent]] number 1: `reason` is missing or empty"
        );
    }

    #[test]
    fn misspelt_keys_are_refused() {
        assert_eq!(
            error_of("[[equivalent]]\nfile = \"a.rs\"\nmutation = \"m\"\nreasons = \"r\"\n"),
            "in the [[equivalent]] number 1: unknown key `reasons`: an entry has file, mutation, line and column (optional) and reason"
        );
        assert_eq!(
            error_of("[[equivalents]]\nfile = \"a.rs\"\n"),
            "unknown key `equivalents`: the entries are `[[equivalent]]` tables"
        );
        assert_eq!(
            error_of(
                "[[equivalent]]\nfile = \"a.rs\"\nmutation = \"m\"\nline = 0\nreason = \"r\"\n"
            ),
            "in the [[equivalent]] number 1: `line` must be a line number, from 1"
        );
        assert_eq!(
            error_of(
                "[[equivalent]]\nfile = \"a.rs\"\nmutation = \"m\"\ncolumn = 3\nreason = \"r\"\n"
            ),
            "in the [[equivalent]] number 1: `column` needs `line`"
        );
    }

    #[test]
    fn a_column_tells_apart_two_mutants_of_one_line() {
        let list = parse(
            "[[equivalent]]\nfile = \"a.rs\"\nmutation = \"replace | with ^ in f\"\nline = 124\ncolumn = 50\nreason = \"disjoint bits\"\n",
        )
        .expect("a valid list");
        assert!(list[0].names("a.rs", (124, 50), "replace | with ^ in f"));
        assert!(!list[0].names("a.rs", (124, 35), "replace | with ^ in f"));
        assert_eq!(list[0].label(), "a.rs:124:50: replace | with ^ in f");
    }
}
