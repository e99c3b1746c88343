//! The wire protocol of sandbox-rs: every request and response body that crosses the agent's HTTP API, the Worker's
//! public API and the clients, in one crate so that the ends cannot drift apart.
//!
//! Field names follow the Cloudflare Sandbox SDK (`camelCase`), so code written from its docs reads the same here.

mod backup;
mod error;
mod evolution;
mod exec;
mod file_content;
mod files;
pub mod frames;
mod git;
pub mod ids;
pub mod json;
pub mod limits;
mod network;
mod ports;
mod process;
pub mod query;
mod resources;
pub mod routes;
#[cfg(test)]
mod schema;
pub mod screen;
pub mod secret;
mod secrets;
mod session;
mod sleep;
pub mod start;
mod terminal;
#[cfg(test)]
mod typescript;
mod watch;

pub use backup::{
    Backup, BackupKnown, BackupList, BackupRestore, BackupRestoreQuery, BackupRestored, BackupScan, BackupScanRequest,
    BlobRef, CreateBackupRequest, ForkAdopt, ForkRequest, ForkResult, RestoreBackupRequest, RestoreBackupResult,
    SaveOutcome, DEFAULT_BACKUP_TTL_SECONDS, MAX_BACKUP_NAME_BYTES, MAX_BACKUP_TTL_SECONDS, MAX_MANIFEST_BYTES,
};
pub use error::{ErrorBody, ErrorCode};
pub use exec::{
    CancelExecRequest, CancelExecResult, CommandInfo, CommandList, CommandState, CommandsQuery, Encoding, Ended,
    ExecEvent, ExecEventType, ExecRequest, ExecResult,
};
pub use file_content::{FileContentQuery, FileUploadQuery, UploadResult, FILE_SIZE_HEADER};
pub use files::{
    DeleteFileRequest, ExistsRequest, ExistsResult, FileInfo, FileInfoRef, FileOpResult, FileType, ListFilesRequest,
    ListFilesResult, MkdirRequest, MkdirResult, MoveFileRequest, Permissions, ReadFileRequest, ReadFileResult,
    RenameFileRequest, RenameResult, WriteFileRequest,
};
pub use git::{GitCheckoutRequest, GitCheckoutResult};
pub use network::{
    check_name as check_host_name, in_network, EgressDenial, HostCount, NetworkPolicy, NetworkRule, NetworkState,
    RuleTarget, MAX_NETWORK_RULES, RECENT_DENIALS,
};
pub use ports::{
    ExposePortRequest, ExposedPort, ExposedPortList, UnexposePortResult, AGENT_PORT, MIN_EXPOSED_PORT, PREVIEW_HEADER,
    PREVIEW_ORIGIN_HEADER,
};
pub use process::{
    KillAllResult, KillQuery, LogQuery, LogRange, LogStream, ProcessEvent, ProcessEventType, ProcessInfo, ProcessList,
    ProcessListQuery, ProcessLogs, ProcessStatus, StartProcessRequest, StdinRequest, StdinResult, WaitCondition,
    WaitRequest, WaitResult, LAST_EVENT_ID_HEADER,
};
pub use resources::{parse_size, Limits, MemorySize, ResourceLimits, ResourceUsage, SessionUsage};
pub use screen::BINDING_ORIGIN;
pub use secrets::{
    check_secret_name, SecretInfo, SecretList, SetSecretRequest, DEFAULT_SECRET_FORMAT, DEFAULT_SECRET_HEADER,
    MAX_SECRETS, MAX_SECRET_BYTES,
};
pub use session::{
    CommandCounts, Containment, DeleteResult, DestroyResult, Health, HistoryEntry, MetricsSummary, SandboxMode,
    SandboxStatus, SessionHistory, SessionInfo, SessionList, SessionOptions, SessionStatus, SetEnvVarsRequest,
    SetEnvVarsResult,
};
pub use sleep::{SleepRequest, SleepSettings, MAX_SLEEP_AFTER_SECONDS};
pub use terminal::{PtyControl, PtyInfo, PtyList, PtyQuery, MAX_PTY_DIMENSION};
pub use watch::{CheckChangesRequest, CheckChangesResult, StopWatchResult, WatchEvent, WatchEventType, WatchQuery};

/// Header that names the sandbox when one agent serves many (local multi-sandbox mode).
pub const SANDBOX_ID_HEADER: &str = "x-sandbox-id";

/// Response header naming the agent process that answered (a random id per start), so the Worker notices a
/// restarted agent.
pub const AGENT_BOOT_HEADER: &str = "x-agent-boot";

/// Request header naming the agent process (its `X-Agent-Boot`) the caller expects. An agent with another boot id
/// refuses the call with `AGENT_RESTARTED` before doing anything, so the Worker can put the sessions back first.
pub const EXPECTED_BOOT_HEADER: &str = "x-agent-boot-expected";

/// Request header with the token an agent asks of its callers when it has one (the local host agent, and each
/// local sandbox's own agent in its jail).
pub const AGENT_TOKEN_HEADER: &str = "x-sandbox-agent-token";

/// Request header with the `Host` a browser page named, when a caller Worker hands the page's WebSocket on
/// (`terminal(request)` in the clients, which also check the page's `Origin`): in local mode the Worker refuses a
/// host that is not this machine, as it does its own `Host`, so a DNS-rebinding page cannot reach a terminal
/// through a caller either.
pub const PAGE_HOST_HEADER: &str = "x-sandbox-page-host";

/// Response header listing the sessions the Worker re-created because the agent had restarted.
pub const SESSIONS_RECREATED_HEADER: &str = "x-sandbox-sessions-recreated";

/// Request and response header with the id of one call from its caller to the shell: the Worker takes the
/// caller's (when `ids::valid_request_id`) or makes one, passes it to the object and the agent, and every log line
/// and error body of the call carries it.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The session that calls without a `sessionId` use.
pub const DEFAULT_SESSION_ID: &str = "default";
