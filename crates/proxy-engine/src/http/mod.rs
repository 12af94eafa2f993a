//! `mode http`: HAProxy 2.6's HTTP/1 proxying.
//!
//! Module map:
//! - [`head`]: parsed request/response heads (HTX's view: start line, ordered headers),
//!   case-insensitive lookups, and the lower-case serialization HAProxy sends.
//! - [`acl`]: ACLs and `if`/`unless` conditions compiled to typed matchers (fetches,
//!   `-m` methods, `-i`, `-f` files, predefined ACLs) and evaluated on a request,
//!   its connection and, in `http-response` rules, its response.
//! - [`rules`]: `http-request`, `redirect`, `use_backend`/`default_backend` and
//!   `http-response` compiled per proxy; a request or response in, a verdict out
//!   (head rewritten in place, or deny/auth/redirect/return answers).

pub mod acl;
pub mod head;
pub mod rules;
