//! The checks, one function each (the wrapper part runs a test suite), and
//! the table that lists them is [`crate::catalog`].

pub mod client;
pub mod room;
pub mod server;
pub mod wrapper;
