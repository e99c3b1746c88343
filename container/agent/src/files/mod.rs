//! File operations, done natively by the agent: never through a shell, so never queued behind a running command.
//! Each function takes paths already resolved to this machine, and the paths to show callers in results and errors.

pub mod atomic;
pub mod info;
pub mod list;
pub mod ops;
mod parallel;
pub mod stream;
pub mod tree;
pub mod walk;

/// A path as the caller named it and as it is on this machine.
#[derive(Debug, Clone)]
pub struct Target {
    pub real: std::path::PathBuf,
    pub shown: String,
}
