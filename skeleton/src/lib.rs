//! The skeleton generator: turns the reference solution, `solution/`, into
//! the students' crate, `support/`.
//!
//! - [`markers`]: the marker grammar (every marker is described there), and
//!   the replacement of each solution block by its stub.
//! - [`generate`]: reads `solution/` and builds every file of the skeleton
//!   in memory, so that an error leaves `support/` as it was.
//! - [`cargo_toml`]: the students' `Cargo.toml`, standing alone.
//! - [`sync`] and [`manifest`]: write the files into `support/` without
//!   ever overwriting a file the student changed, unless asked to.
//! - [`solution_diff`]: the lines of the solution blocks as a diff, for
//!   mutation testing (`make mutants`).

pub mod cargo_toml;
pub mod files;
pub mod generate;
pub mod manifest;
pub mod markers;
pub mod solution_diff;
pub mod sync;

use std::io;
use std::path::PathBuf;

use markers::MarkerError;

/// Why the generator could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Markers to fix in the solution: one line each.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Markers(Vec<MarkerError>),
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{}:{line}: {message}", path.display())]
    Manifest {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl Error {
    /// A closure for `map_err` that names what failed, and on which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
