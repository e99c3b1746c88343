//! sandbox-agent: the program inside each sandbox's container. It keeps one persistent bash per session and serves
//! exec, streaming and file operations over HTTP/1.1 JSON. See `ARCHITECTURE.md` at the repository root.
//!
//! The modules are private: what the binary (`main.rs`), the benchmarks and the integration tests use is
//! re-exported here, and the compiler finds everything else that nothing uses.

mod background;
mod backup;
mod budget;
mod clock;
mod config;
mod connections;
mod contain;
mod context;
mod egress;
mod error;
mod files;
mod gathered_body;
mod git;
mod held_body;
mod http;
mod local;
mod logging;
mod memory_limit;
mod metrics;
mod names;
mod open_connections;
mod output;
mod process;
mod relay;
mod server;
mod session;
mod start_claim;
mod tenant;
mod terminal;
mod trim;
mod watch;
mod workspace;

pub use config::{parse, Config, Parsed, TOKEN_ENV, USAGE};
/// Whether this machine can jail local sandboxes (bubblewrap and the namespaces it needs), and if not, why.
pub use local::jail::available as jail_available;
pub use logging::init as init_logging;
pub use process::inherit::close_inherited_on_exec;
pub use server::run;
pub use trim::configure as configure_allocator;
