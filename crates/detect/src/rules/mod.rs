//! Classification rules that each answer one question about a value, one family a file, so
//! the next real-world shape is a new file here rather than an edit in the middle of
//! `classify.rs` (which still holds the SPEC §5 table's core rules and calls these).

pub(crate) mod business;
pub(crate) mod clock;
pub(crate) mod lifetime;
pub(crate) mod login;
pub(crate) mod server_session;
pub(crate) mod short_ids;
pub(crate) mod user_bound;
