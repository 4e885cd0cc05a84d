//! What `terminal.rs` imports from here, which now lives in the harness
//! (`Inbox`, `show`) and in `failure` (`DEADLINE`). The other modules use
//! those directly.

pub use crate::failure::DEADLINE;
pub use harness::Inbox;
pub use harness::show::show;
