//! The `mac` command line.

fn main() {}
