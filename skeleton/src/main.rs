//! `skeleton`: generates the students' crate, `support/`, from the reference
//! solution. `make` runs it; `make reset` runs it with `--reset`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use clap::Parser;

use skeleton::{Error, files, generate, solution_diff, sync};

/// Generates the students' crate from the reference solution: every
/// `// BEGIN SOLUTION` ... `// END SOLUTION` block becomes its stub (the
/// markers are described in skeleton/src/markers.rs). A file you changed
/// is kept, unless --reset.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The reference crate [default: solution/ of the lab kit]
    #[arg(long, value_name = "DIR")]
    solution: Option<PathBuf>,
    /// The workspace manifest the solution inherits its settings from
    /// [default: Cargo.toml of the lab kit]
    #[arg(long, value_name = "FILE")]
    workspace_manifest: Option<PathBuf>,
    /// Where the students' crate goes [default: support/ of the lab kit]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Overwrite the files you changed, after copying each to
    /// <out>/.backup/<time>/. Files you added are never touched.
    #[arg(long)]
    reset: bool,
    /// Write nothing into the students' crate; instead write to FILE the
    /// unified diff that adds the lines inside the solution blocks, paths
    /// relative to the workspace (for `cargo mutants --in-diff FILE`)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["out", "reset"])]
    solution_diff: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Marker errors are lines `FILE:LINE: message` already, which
            // editors can jump to: nothing goes in front of them.
            match err.downcast_ref::<Error>() {
                Some(markers @ Error::Markers(_)) => eprintln!("{markers}"),
                _ => eprintln!("skeleton: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let cwd = std::env::current_dir().context("cannot find the current folder")?;
    let kit = || find_kit(&cwd);
    let solution = match &args.solution {
        Some(path) => path.clone(),
        None => kit()?.join("solution"),
    };
    let workspace_manifest = match &args.workspace_manifest {
        Some(path) => path.clone(),
        None => kit()?.join("Cargo.toml"),
    };
    let solution = shown(&cwd, &solution);
    if let Some(diff_path) = &args.solution_diff {
        // `Cargo.toml` alone has the empty path as its parent.
        let root = match workspace_manifest.parent() {
            Some(root) if !root.as_os_str().is_empty() => root,
            _ => Path::new("."),
        };
        return write_solution_diff(&solution, root, &shown(&cwd, diff_path));
    }
    let out = match &args.out {
        Some(path) => path.clone(),
        None => kit()?.join("support"),
    };
    let out = shown(&cwd, &out);

    let skeleton = generate::generate(&solution, &shown(&cwd, &workspace_manifest))?;
    let plan = sync::plan(&skeleton, &out)?;
    let backup = if args.reset {
        let changed = plan.changed();
        if changed.is_empty() {
            println!("reset: no file differs from the skeleton, nothing to overwrite");
            None
        } else {
            let folder = sync::backup_folder(&out, SystemTime::now());
            let files = if changed.len() == 1 { "file" } else { "files" };
            println!(
                "reset: overwriting {} {files} you changed, after a copy to {}:",
                changed.len(),
                folder.display()
            );
            for path in changed {
                println!("  {path}");
            }
            Some(folder)
        }
    } else {
        None
    };
    let report = sync::apply(plan, &skeleton, backup.as_deref())?;
    print!("{report}");
    Ok(())
}

/// Writes the diff of the solution blocks of `solution` to `diff_path`.
fn write_solution_diff(solution: &Path, root: &Path, diff_path: &Path) -> Result<()> {
    let diff = solution_diff::solution_diff(solution, root)?;
    files::write_atomic(diff_path, diff.text.as_bytes(), false)?;
    println!(
        "{}: {} lines in {} solution blocks of {} files",
        diff_path.display(),
        diff.lines,
        diff.blocks,
        diff.files
    );
    Ok(())
}

/// The lab kit's folder: the nearest one, from the current folder up, that
/// holds `Cargo.toml` and `solution/`.
fn find_kit(cwd: &Path) -> Result<PathBuf> {
    for folder in cwd.ancestors() {
        if folder.join("Cargo.toml").is_file() && folder.join("solution").is_dir() {
            return Ok(folder.to_path_buf());
        }
    }
    bail!(
        "no lab kit (a folder with Cargo.toml and solution/) here or above {}: run it in the kit, or give --solution, --workspace-manifest and --out",
        cwd.display()
    )
}

/// `path` relative to the current folder when it is inside it, so that
/// messages name files the way the user would type them.
fn shown(cwd: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(cwd) {
        Ok(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
        Ok(relative) => relative.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}
