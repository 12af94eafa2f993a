//! `mode http`: HAProxy 2.6's HTTP/1 proxying.
//!
//! Module map:
//! - [`head`]: parsed request/response heads (HTX's view: start line, ordered headers),
//!   case-insensitive lookups, and the lower-case serialization HAProxy sends.
//! - [`acl`]: ACLs and `if`/`unless` conditions compiled to typed matchers (fetches,
//!   `-m` methods, `-i`, `-f` files, predefined ACLs) and evaluated on a request,
//!   its connection and, in `http-response` rules, its response.
//! - [`errors`]: HAProxy's built-in error answers and `errorfile`s (raw for the
//!   multiplexer's 400/408, through HTX for the stream's 403/502/503/504).
//! - [`h1`]: HTTP/1 parsing (heads, `Connection` tokens, body framing and smuggling
//!   rules, chunked coding) and the HTX sizes the logs count.
//! - [`pool`]: the idle server connections of each server shared between client
//!   connections (`http-reuse`, `pool-max-conn`, `pool-purge-delay`), pure: which one a
//!   request takes, which are kept, which a purge closes.
//! - [`session`]: one client connection in `mode http` (the runtime): requests read,
//!   forwarded or answered, responses back, keep-alive, tunnels, one log record each.
//! - [`stats`]: the stats page (`stats uri/auth/realm/refresh/...`), pure: which
//!   requests it takes, Basic auth, the `;csv` export and the HTML page from a
//!   snapshot of counters the engine fills.
//! - [`promex`]: the Prometheus exporter (`http-request use-service
//!   prometheus-exporter`), pure: a query's options and a stats snapshot in, the
//!   page's text out.
//! - [`rules`]: `http-request`, `redirect`, `use_backend`/`default_backend` and
//!   `http-response` compiled per proxy; a request or response in, a verdict out
//!   (head rewritten in place, or deny/auth/redirect/return answers); the session
//!   runs them per proxy.
//! - [`cookie`]: `cookie NAME insert` persistence: the server a request's cookie
//!   names (with `indirect` removal), the `Set-Cookie` a response gets.

pub mod acl;
pub mod cookie;
pub mod errors;
pub mod h1;
pub mod head;
pub mod pool;
pub mod promex;
pub mod rules;
pub mod session;
pub mod stats;
