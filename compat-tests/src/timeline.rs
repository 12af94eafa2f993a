//! The client's request timeline (placeholder, being written).
