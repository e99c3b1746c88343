//! The Rust client of sandbox-rs, for Workers written with workers-rs (feature `worker`: a service binding or a
//! URL), for tokio programs (feature `native`: plain HTTP to a URL), and for anything that implements `Transport`. It reads like the Cloudflare Sandbox SDK:
//!
//! ```ignore
//! let sandbox = get_sandbox(env.service("SANDBOX")?, "my-sandbox");
//! let session = sandbox.create_session(SessionOptions { cwd: Some("/workspace/analysis".into()), ..Default::default() }).await?;
//! let result = session.exec("echo $API_KEY", ExecOptions::default()).await?;
//! ```
//!
//! Options and results are the wire types of `sandbox-protocol`, the crate the agent and the Worker use.

mod connection;
mod error;
mod events;
#[cfg(feature = "native")]
mod native;
mod processes;
mod sandbox;
mod session;
mod sse;
mod stop_on_drop;
#[cfg(feature = "worker")]
mod terminal;
mod transport;
mod watch;

pub use error::{Error, ErrorCode, Result};
pub use events::{ExecEvents, ProcessEvents};
#[cfg(feature = "native")]
pub use native::NativeUrl;
pub use processes::{ProcessOptions, WaitForLogOptions, WaitForPortOptions, WaitOptions};
pub use sandbox::{get_sandbox, Sandbox, SecretOptions};
pub use sandbox_protocol as protocol;
pub use sandbox_protocol::{
    Backup, CheckChangesResult, CommandInfo, CommandState, CreateBackupRequest, Encoding, Ended, ExecEvent,
    ExecEventType, ExecResult, FileInfo, FileType, GitCheckoutRequest, GitCheckoutResult, ListFilesResult,
    NetworkPolicy, NetworkState, ReadFileResult, RestoreBackupResult, SecretInfo, SessionInfo, SessionOptions,
    UploadResult, WatchEvent, WatchEventType,
};
pub use session::{ExecOptions, ExecutionSession, ListFilesOptions};
#[cfg(feature = "worker")]
pub use terminal::TerminalOptions;
pub use transport::{Answer, Body, Call, Chunks, Detached, Transport};
#[cfg(feature = "worker")]
pub use transport::{RemoteUrl, Upgrade};
pub use watch::{WatchEvents, WatchOptions};
