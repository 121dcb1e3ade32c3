//! One module per subcommand: its clap arguments and its `run`. `main.rs` only dispatches.

pub mod build;
pub mod check;
pub mod deploy;
pub mod explain;
pub mod log;
pub mod replay;
pub mod score;
pub mod serve;
