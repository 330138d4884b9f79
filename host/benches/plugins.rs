//! Plugin runtime benchmarks (filled in below as the runtime lands).
fn main() {}
