//! lab-agent (placeholder, being written).
fn main() {}
