//! Processes: reaping every child (the agent may be PID 1), killing process trees, and the kernel objects a
//! command's input and output travel through.

pub mod fds;
pub mod inherit;
pub mod kill;
pub mod launch;
pub mod prelude;
pub mod reaper;
pub mod tree;
