//! sandbox-agent: the program inside each sandbox's container. It keeps one persistent bash per session and serves
//! exec, streaming and file operations over HTTP/1.1 JSON. See `ARCHITECTURE.md` at the repository root.

pub mod budget;
pub mod clock;
pub mod config;
pub mod connections;
pub mod error;
pub mod files;
pub mod http;
pub mod local;
pub mod names;
pub mod output;
pub mod process;
pub mod sandbox;
pub mod server;
pub mod session;
pub mod workspace;
