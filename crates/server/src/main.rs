//! tilefn-serve (skeleton).
fn main() {}
