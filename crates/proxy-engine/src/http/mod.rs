//! `mode http`: HAProxy 2.6's HTTP/1 proxying.
//!
//! Module map:
//! - [`head`]: parsed request/response heads (HTX's view: start line, ordered headers),
//!   case-insensitive lookups, and the lower-case serialization HAProxy sends.
//! - [`stats`]: the stats page (`stats uri/auth/realm/refresh/...`), pure: which
//!   requests it takes, Basic auth, the `;csv` export and the HTML page from a
//!   snapshot of counters the engine fills.

pub mod head;
pub mod stats;
