//! `mode http`: HAProxy 2.6's HTTP/1 proxying.
//!
//! Module map:
//! - [`head`]: parsed request/response heads (HTX's view: start line, ordered headers),
//!   case-insensitive lookups, and the lower-case serialization HAProxy sends.

pub mod head;
