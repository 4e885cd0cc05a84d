//! The generator's integration tests: one test binary, a module per
//! subject, sharing [`util`]. `cargo test -p skeleton --test integration
//! MODULE::` runs one module.

mod util;

mod generate;
mod solution_diff;
mod todo_text;
