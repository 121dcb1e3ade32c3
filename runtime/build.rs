//! Nothing to build. The runtime has this build script only so that its build-dependencies
//! take part in feature resolution: see `[build-dependencies]` in Cargo.toml.

fn main() {}
