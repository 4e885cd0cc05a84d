//! The grader's integration tests: one test binary, a module per subject,
//! so that the suite is compiled and linked once and what the modules need
//! alike (the students' crate generated from the solution, a command that
//! explains its failure, scratch folders) is made once, in [`util`].
//!
//! `cargo test -p grader --test integration MODULE::` runs one module, e.g.
//! `lab_docs::`. Tests that load the machine (whole gradings, floods) take
//! turns ([`util::one_heavy_test_at_a_time`]); the quick ones run beside
//! them.
//!
//! Not part of an ordinary run (`#[ignore]`), each with its `make` target:
//!
//! - `flake::flake` and `flake::grading_time`: `make flake`,
//!   `make bench-grader`;
//! - `integrity::`: `make test-integrity`, as root;
//! - `mutant_oracle::`: the oracle of `make mutants` (`.cargo/mutants.toml`).

/// What the modules that hold the labs' texts to the code share.
mod docs;
mod util;

mod batch;
mod bench;
mod cli;
mod containment;
mod fixtures;
mod flake;
mod integrity;
mod lab_docs;
mod mistakes;
mod mutant_oracle;
mod room_docs;
mod room_grading;
mod self_check;
mod soak;
