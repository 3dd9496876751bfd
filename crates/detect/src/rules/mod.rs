//! Classification rules that each answer one question about a value, one family a file, so
//! the next real-world shape is a new file here rather than an edit in the middle of
//! `classify.rs` (which still holds the SPEC §5 table's core rules and calls these).

pub mod business;
pub mod clock;
pub mod lifetime;
pub mod login;
pub mod server_session;
pub mod short_ids;
pub mod user_bound;
