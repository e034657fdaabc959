//! The `feedwatch` binary: parse the command line, call the library, pick the exit code.

fn main() {}
