//! Criterion micro-benchmarks of every encoder and decoder (filled by the encodings work).
fn main() {}
