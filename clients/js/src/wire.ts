// Generated from the protocol crate (protocol/src/schema.rs): do not edit. The shapes of the bodies on the
// wire, as the agent and the Worker send and accept them; the client's own types (types.ts) are checked
// against them in wire-check.ts. `SANDBOX_WRITE_GENERATED=1 cargo test -p sandbox-protocol` writes it anew.

/**
 * A backup: made by `createBackup`, listed by `listBackups`.
 */
export interface Backup {
  createdAt: string;
  dir: string;
  expiresAt: string;
  files: number;
  /**
   * Unguessable; reachable only through the sandbox that made it.
   */
  id: string;
  name?: string;
  /**
   * The bytes of its files.
   */
  sizeBytes: number;
}

/**
 * `GET /v1/backup/known`: the blobs the agent counts as stored (those of each directory's last committed save or
 * restore), which it will not send again; the store must keep them.
 */
export interface BackupKnown {
  blobs: string[];
}

/**
 * `listBackups`: the sandbox's backups that have not expired, newest first.
 */
export interface BackupList {
  backups: Backup[];
  success: boolean;
}

/**
 * A restore begun: the blobs to send it.
 */
export interface BackupRestore {
  dir: string;
  /**
   * Hashes of the blobs the restore needs.
   */
  missing: string[];
  restoreId: string;
}

/**
 * The query of `POST /v1/backup/restores`.
 */
export interface BackupRestoreQuery {
  /**
   * The directory to restore into, in the sandbox's view; the workspace by default.
   */
  dir?: string;
  /**
   * The blobs are another sandbox's (a fork's first restore): the agent does not count them as stored, so the
   * next save stores every file under this sandbox's own name.
   */
  foreign?: boolean;
  /**
   * Restore only into an empty (or absent) directory: one with entries is refused with `FILE_EXISTS` and kept.
   */
  onlyIfEmpty?: boolean;
}

/**
 * A restore committed.
 */
export interface BackupRestored {
  dir: string;
  files: number;
  sizeBytes: number;
  success: boolean;
}

/**
 * A directory read for a save.
 */
export interface BackupScan {
  /**
   * The blobs the agent's last committed save or restore did not hold (to store unless the store has them).
   */
  blobs: BlobRef[];
  /**
   * The directory saved, as the sandbox sees it.
   */
  dir: string;
  entries: number;
  files: number;
  /**
   * The size of the manifest.
   */
  manifestBytes: number;
  /**
   * Every blob the manifest names (hashes, each once): what the store must keep while the save is kept.
   */
  refs?: string[];
  scanId: string;
  /**
   * The bytes of every file.
   */
  sizeBytes: number;
  /**
   * Entries not saved (FIFOs, sockets, devices, unreadable directories).
   */
  skipped: string[];
}

/**
 * `POST /v1/backup/scans`.
 */
export interface BackupScanRequest {
  /**
   * The directory to save, in the sandbox's view; the workspace by default.
   */
  dir?: string;
}

/**
 * A blob: its BLAKE3 hash (64 hex digits) and size.
 */
export interface BlobRef {
  hash: string;
  size: number;
}

/**
 * `POST /v1/exec/cancel`: stops a command started with this `commandId`, queued or running, as a timeout would;
 * it ends with exit code 130.
 */
export interface CancelExecRequest {
  commandId: string;
}

export interface CancelExecResult {
  /**
   * False when no such command was in flight (it had finished, or never started).
   */
  cancelled: boolean;
  commandId: string;
  success: boolean;
}

/**
 * `POST /v1/watch/changes` (`checkChanges`): what changed under a path since a cursor, for callers that cannot
 * hold a stream open. The first call (no `since`) puts a watch in place and answers a cursor; each later call
 * answers the changes after its cursor and a new one. The agent keeps the changes of a path so watched for 10
 * minutes after its last call, the latest 10,000 of them.
 */
export interface CheckChangesRequest {
  exclude?: string;
  /**
   * Comma-separated patterns, as `watch` takes them.
   */
  include?: string;
  path: string;
  recursive?: boolean;
  sessionId?: string;
  /**
   * The cursor of the previous answer.
   */
  since?: string;
}

export interface CheckChangesResult {
  /**
   * The changes after `since`, oldest first.
   */
  changes: WatchEvent[];
  /**
   * For the next call's `since`.
   */
  cursor: string;
  /**
   * Changes were lost (more came than are kept, the watch was restarted, or the cursor is unknown): list the
   * path again rather than trust `changes` alone.
   */
  overflow: boolean;
  /**
   * The watched path, absolute.
   */
  path: string;
  success: boolean;
  timestamp: string;
}

/**
 * Commands run, by how they ended (`Ended`), and those whose shell could not start.
 */
export interface CommandCounts {
  cancelled: number;
  exited: number;
  notStarted: number;
  timedOut: number;
}

/**
 * One command in flight (`GET /v1/commands`): queued behind its session's running command, or running.
 */
export interface CommandInfo {
  /**
   * The command as sent (its first 1,024 bytes).
   */
  command: string;
  /**
   * Cancel it with `POST /v1/exec/cancel` and this id.
   */
  commandId: string;
  /**
   * When the agent took it, ISO 8601.
   */
  queuedAt: string;
  sessionId: string;
  /**
   * When it began to run.
   */
  startedAt?: string;
  state: CommandState;
  /**
   * Milliseconds after its start when it is stopped (its own timeout, its session's, or the sandbox's
   * default); absent when it has none.
   */
  timeoutMs?: number;
}

/**
 * `GET /v1/commands` (`?sessionId=`: that session's only): the commands in flight, oldest first.
 */
export interface CommandList {
  commands: CommandInfo[];
  success: boolean;
}

/**
 * What a command in flight is doing: waiting for its session's shell, or running in it.
 */
export type CommandState = 'queued' | 'running';

/**
 * The query of `GET /v1/commands`.
 */
export interface CommandsQuery {
  /**
   * That session's commands only.
   */
  sessionId?: string;
}

/**
 * What holds a sandbox's processes, so that ending a command, a session or a process ends all it started.
 */
export type Containment = 'cgroup' | 'process-group';

/**
 * `createBackup`: saves a directory of the sandbox (the workspace by default) to the backup store.
 */
export interface CreateBackupRequest {
  dir?: string;
  /**
   * A name of the caller's, shown in `listBackups`.
   */
  name?: string;
  /**
   * Seconds the backup is kept (3 days by default, 30 at most).
   */
  ttl?: number;
}

/**
 * `deleteFile`: removes a file or symlink; a directory is refused with `IS_DIRECTORY`.
 */
export interface DeleteFileRequest {
  path: string;
  sessionId?: string;
}

/**
 * Reply to a delete of a session or a sandbox.
 */
export interface DeleteResult {
  id: string;
  success: boolean;
  timestamp: string;
}

/**
 * `DELETE /v1/sandboxes/{id}` on the Worker: the sandbox was destroyed.
 */
export interface DestroyResult {
  id: string;
  success: boolean;
}

/**
 * One refused connection.
 */
export interface EgressDenial {
  at: string;
  /**
   * The host as the sandbox named it (a name or an address).
   */
  host: string;
  port: number;
  /**
   * Why: the rule that denied it, `not allowed` (no rule and no internet), or the machine's own address.
   */
  reason: string;
}

/**
 * How output bytes are carried in JSON.
 */
export type Encoding = 'utf-8' | 'base64';

/**
 * How a command ended: on its own (`exitCode` is its status, 128+N when signal N killed it), stopped by its
 * timeout (exit code 124), or cancelled (`POST /v1/exec/cancel` or the caller leaving; exit code 130). A command
 * can exit with 124 or 130 by itself: only this field tells them apart.
 */
export type Ended = 'exited' | 'timedOut' | 'cancelled';

/**
 * The body of every error response: `{ "code": "...", "message": "...", "requestId": "..." }`.
 */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /**
   * The call's `X-Request-Id`, to find its log lines.
   */
  requestId?: string;
}

/**
 * Every error the API reports, by its stable wire code.
 */
export type ErrorCode = 'SESSION_NOT_FOUND' | 'SESSION_ALREADY_EXISTS' | 'FILE_NOT_FOUND' | 'NOT_DIRECTORY' | 'IS_DIRECTORY' | 'FILE_EXISTS' | 'DIRECTORY_NOT_EMPTY' | 'PERMISSION_DENIED' | 'FILE_TOO_LARGE' | 'PROCESS_NOT_FOUND' | 'INTERNAL_ERROR' | 'VALIDATION_FAILED' | 'INVALID_JSON' | 'BODY_TOO_LARGE' | 'REQUEST_TIMEOUT' | 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'DEFAULT_SESSION_PROTECTED' | 'GIT_REPOSITORY_NOT_FOUND' | 'GIT_BRANCH_NOT_FOUND' | 'GIT_AUTH_FAILED' | 'GIT_NETWORK_ERROR' | 'GIT_CLONE_FAILED' | 'WATCH_LIMIT' | 'EGRESS_UNAVAILABLE' | 'TOO_MANY_SECRETS' | 'SECRET_NOT_FOUND' | 'RANGE_NOT_SATISFIABLE' | 'UNSUPPORTED_FILE_TYPE' | 'NO_SPACE' | 'UNAUTHORIZED' | 'CROSS_SITE_REFUSED' | 'UNSUPPORTED_MEDIA_TYPE' | 'TOO_MANY_SESSIONS' | 'PROCESS_ALREADY_EXISTS' | 'TOO_MANY_PROCESSES' | 'PROCESS_NOT_RUNNING' | 'PROCESS_EXITED' | 'WAIT_TIMED_OUT' | 'PORT_NOT_EXPOSED' | 'TOO_MANY_SANDBOXES' | 'PTY_NOT_FOUND' | 'RESOURCE_EXHAUSTED' | 'CONTAINER_UNAVAILABLE' | 'SHUTTING_DOWN' | 'AGENT_RESTARTED' | 'BACKUPS_NOT_CONFIGURED' | 'SANDBOX_ALREADY_EXISTS' | 'BACKUP_NOT_FOUND' | 'BACKUP_INVALID' | 'FILE_CHANGED' | 'LIMITS_UNAVAILABLE';

/**
 * One server-sent event of `POST /v1/exec/stream` (the JSON on its `data:` line).
 *
 * `complete` carries `exitCode` and a `result` whose `stdout` and `stderr` are empty (the output went out as
 * events). A stream that ends without `complete` or `error` was cut off and must be treated as a failure.
 */
export interface ExecEvent {
  command?: string;
  /**
   * `start`: the command's id (the caller's `commandId`, or the agent's), to cancel it by.
   */
  commandId?: string;
  data?: string;
  error?: ErrorBody;
  exitCode?: number;
  result?: ExecResult;
  sessionId?: string;
  timestamp: string;
  type: ExecEventType;
}

export type ExecEventType = 'start' | 'stdout' | 'stderr' | 'complete' | 'error';

/**
 * `POST /v1/exec` and `POST /v1/exec/stream`.
 */
export interface ExecRequest {
  command: string;
  /**
   * Chosen by the caller (1-128 characters, like a session id) to cancel the command with `POST
   * /v1/exec/cancel`; unique among the sandbox's commands in flight.
   */
  commandId?: string;
  /**
   * Working directory for this command only.
   */
  cwd?: string;
  encoding?: Encoding;
  /**
   * Set for this command only, values taken literally. A `null` value unsets the variable for this command.
   */
  env?: Record<string, string | null>;
  /**
   * Cap on each of stdout and stderr in a buffered result (bytes); beyond it output is dropped and
   * `truncated` is set. Streams have no cap.
   */
  maxOutputBytes?: number;
  sessionId?: string;
  /**
   * Milliseconds; overrides the session's and the agent's default.
   */
  timeout?: number;
}

/**
 * The result of a buffered exec, as the SDK names it, plus `ended`, `timedOut` and `truncated`.
 *
 * `ended` is the newest field: a result from an agent without it reads as `exited`, or `timedOut` when that
 * flag is set (`ExecResult::ended`).
 */
export interface ExecResult {
  command: string;
  /**
   * The command's id: the caller's `commandId`, or one the agent gave it (absent from an older agent).
   */
  commandId?: string;
  /**
   * Milliseconds.
   */
  duration: number;
  encoding: Encoding;
  /**
   * How it ended; read it with `ended()`.
   */
  ended?: Ended;
  exitCode: number;
  /**
   * What the agent has to say of how the command ended, beyond its output (a memory limit reached).
   */
  message?: string;
  /**
   * Its session's memory limit killed the command or one of its processes (`exitCode` 137); `message` says so.
   */
  oomKilled?: boolean;
  sessionId: string;
  stderr: string;
  stdout: string;
  success: boolean;
  /**
   * `ended == timedOut`, kept for callers that read it.
   */
  timedOut: boolean;
  /**
   * When the command started, ISO 8601.
   */
  timestamp: string;
  truncated: boolean;
}

export interface ExistsRequest {
  path: string;
  sessionId?: string;
}

export interface ExistsResult {
  exists: boolean;
  path: string;
  success: boolean;
  timestamp: string;
}

/**
 * `POST /v1/sandboxes/{id}/ports` (the Worker's own route).
 */
export interface ExposePortRequest {
  /**
   * The SDK's: the domain the caller expects preview URLs under; refused unless it is the one they are served
   * under (`SANDBOX_PREVIEW_HOST`).
   */
  hostname?: string;
  /**
   * A label of the caller's (at most 256 bytes).
   */
  name?: string;
  /**
   * 1024-65535, not the agent's own port.
   */
  port: number;
}

/**
 * An exposed port and the URL a browser opens it at.
 */
export interface ExposedPort {
  /**
   * ISO 8601.
   */
  exposedAt: string;
  name?: string;
  port: number;
  url: string;
}

export interface ExposedPortList {
  count: number;
  ports: ExposedPort[];
  success: boolean;
}

/**
 * The query of `GET /v1/files/content`: which file, and optionally which bytes of it.
 */
export interface FileContentQuery {
  /**
   * How many bytes at most; to the end of the file when absent.
   */
  length?: number;
  /**
   * The first byte sent; 0 when absent. At or past the end of the file: `RANGE_NOT_SATISFIABLE` (an empty file
   * answers offset 0 with no bytes).
   */
  offset?: number;
  path: string;
  sessionId?: string;
}

export interface FileInfo {
  absolutePath: string;
  /**
   * `rwxr-xr-x` style.
   */
  mode: string;
  /**
   * ISO 8601 with zone.
   */
  modifiedAt: string;
  name: string;
  permissions: Permissions;
  /**
   * Relative to the listed directory.
   */
  relativePath: string;
  size: number;
  type: FileType;
}

/**
 * Result of write and delete.
 */
export interface FileOpResult {
  path: string;
  success: boolean;
  timestamp: string;
}

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

/**
 * The query of `PUT /v1/files/content`, whose body (any type but a page's: `application/octet-stream`) is the
 * file's new content. Missing parent directories are made; the file is replaced whole when the body has
 * arrived, and a body cut off half way leaves the old file as it was.
 */
export interface FileUploadQuery {
  path: string;
  sessionId?: string;
}

/**
 * `fork`: makes sandbox `newId`, whose workspace starts as this one's: its last automatic save (one is made
 * now if there is none), or the backup named.
 */
export interface ForkRequest {
  backup?: string;
  newId: string;
}

/**
 * A fork made: the new sandbox gets the workspace on its first call.
 */
export interface ForkResult {
  backup?: string;
  dir: string;
  from: string;
  id: string;
  success: boolean;
}

/**
 * `POST /v1/git/checkout`.
 */
export interface GitCheckoutRequest {
  /**
   * The branch (or tag) to check out; the repository's default branch when absent.
   */
  branch?: string;
  /**
   * A shallow clone of this many commits.
   */
  depth?: number;
  /**
   * `https://`, `http://`, `git://`, `ssh://`, `file://`, `user@host:path`, or an absolute path in the sandbox.
   */
  repoUrl: string;
  sessionId?: string;
  /**
   * Where the clone goes (must not exist, or be an empty directory); the repository's name in the session's
   * directory when absent.
   */
  targetDir?: string;
  /**
   * Milliseconds; the clone is stopped when it passes (the session's, else the sandbox's, command timeout when
   * absent).
   */
  timeout?: number;
}

export interface GitCheckoutResult {
  /**
   * The branch checked out (the default branch's name when none was asked for).
   */
  branch: string;
  repoUrl: string;
  success: boolean;
  /**
   * Where the clone is, absolute.
   */
  targetDir: string;
  timestamp: string;
}

/**
 * `GET /v1/health`.
 */
export interface Health {
  /**
   * Random per agent process: a different value means the agent restarted.
   */
  bootId: string;
  status: string;
  uptimeMs: number;
  version: string;
}

/**
 * One finished command of a session.
 */
export interface HistoryEntry {
  command: string;
  /**
   * Milliseconds.
   */
  duration: number;
  exitCode: number;
  startedAt: string;
  timedOut: boolean;
}

/**
 * The connections to one host the proxy made and refused.
 */
export interface HostCount {
  allowed: number;
  denied: number;
  host: string;
}

/**
 * `DELETE /v1/processes`: every process of the sandbox killed (and, like every ended one, kept for listing).
 */
export interface KillAllResult {
  /**
   * Processes that were running and are now gone.
   */
  killed: number;
  success: boolean;
}

/**
 * The query of `DELETE /v1/processes/{id}`.
 */
export interface KillQuery {
  /**
   * The first signal, by name (`SIGINT`, `INT`) or number (then `SIGKILL` after a grace period); `SIGTERM`
   * when absent.
   */
  signal?: string;
}

/**
 * Limits checked and in numbers: what the agent applies and a session's info shows.
 */
export interface Limits {
  /**
   * Thousandths of a CPU.
   */
  cpuMillis?: number;
  memoryBytes?: number;
  pids?: number;
}

export interface ListFilesRequest {
  includeHidden?: boolean;
  path: string;
  recursive?: boolean;
  sessionId?: string;
}

export interface ListFilesResult {
  count: number;
  files: FileInfo[];
  /**
   * The listed directory, absolute.
   */
  path: string;
  success: boolean;
  timestamp: string;
}

/**
 * The query of `GET /v1/processes/{id}/logs` and `.../stream`.
 */
export interface LogQuery {
  /**
   * `utf-8` (the default) or `base64`.
   */
  encoding?: Encoding;
  /**
   * `.../stream` only: resume at this offset (as `Last-Event-ID` does).
   */
  from?: number;
}

/**
 * Where one stream's log sits in everything that stream wrote.
 */
export interface LogRange {
  /**
   * Bytes of this stream that fell out of the ring and are not returned (`from`, said plainly): 0 when the log
   * holds everything the stream wrote. (Absent from an older agent's answer: read as 0.)
   */
  dropped?: number;
  /**
   * Offset of the first byte returned; the `from` bytes before it fell out of the log's ring.
   */
  from: number;
  /**
   * Bytes the stream has written in all.
   */
  to: number;
}

/**
 * One of a process's two output streams.
 */
export type LogStream = 'stdout' | 'stderr';

/**
 * A memory size: bytes, or text with a unit.
 */
export type MemorySize = number | string;

/**
 * The agent's counters in brief: `GET /v1/metrics` asked for `application/json`, and a sandbox status's `agent`.
 * The Prometheus text of the same route has them in full (by route, stream and limit, with latencies).
 */
export interface MetricsSummary {
  clientErrors: number;
  commands: CommandCounts;
  /**
   * What holds the sandbox's processes.
   */
  containment?: Containment;
  /**
   * Requests refused at a limit (sessions, memory, connections).
   */
  limitsHit: number;
  /**
   * Processes in the sandbox besides the agent, where the agent can count them (in a container).
   */
  processes?: number;
  /**
   * Requests answered, and how many of them with a 4xx or a 5xx.
   */
  requests: number;
  serverErrors: number;
  /**
   * Each session's use of memory, CPU and processes (with cgroups; one agent's sessions).
   */
  sessionUsage?: SessionUsage[];
  /**
   * Sessions alive now.
   */
  sessions: number;
  /**
   * Session shells that ended during a command (each replaced at the next one).
   */
  shellsLost: number;
  stderrBytes: number;
  stdoutBytes: number;
  uptimeMs: number;
}

export interface MkdirRequest {
  path: string;
  recursive?: boolean;
  sessionId?: string;
}

export interface MkdirResult {
  path: string;
  recursive: boolean;
  success: boolean;
  timestamp: string;
}

export interface MoveFileRequest {
  destinationPath: string;
  sessionId?: string;
  sourcePath: string;
}

/**
 * `PUT /v1/network/policy`: the whole policy, replacing the one in effect.
 */
export interface NetworkPolicy {
  /**
   * Reachable even when `internet` is false. The machine's own addresses (loopback, link-local, the host's)
   * are reachable only through a rule here that names them with a port.
   */
  allow?: string[];
  /**
   * Never reachable, whatever `allow` says.
   */
  deny?: string[];
  /**
   * Whether hosts no rule names are reachable. Left out: `true` when `allow` is empty, `false` when it names
   * hosts (an allow-list).
   */
  internet?: boolean;
}

/**
 * The policy in effect and what it has decided (`GET` and `PUT /v1/network/policy`).
 */
export interface NetworkState {
  /**
   * Connections the proxy made, and refused, since the agent started.
   */
  allowed: number;
  denied: number;
  /**
   * Whether the sandbox's code can reach the network only as the policy says. `false` where this agent cannot
   * give its sandboxes a network namespace of their own; `reason` says why, and a policy that restricts
   * anything is refused there (`EGRESS_UNAVAILABLE`).
   */
  enforced: boolean;
  /**
   * Connections by host, most first (at most 50).
   */
  hosts?: HostCount[];
  /**
   * The policy, `internet` spelled out and its rules in canonical form.
   */
  policy: NetworkPolicy;
  /**
   * The address of the egress proxy inside the sandbox (`HTTP_PROXY`, `HTTPS_PROXY`).
   */
  proxy?: string;
  reason?: string;
  /**
   * The latest refusals, newest last.
   */
  recentDenials?: EgressDenial[];
  success: boolean;
}

/**
 * The owner's permission bits.
 */
export interface Permissions {
  executable: boolean;
  readable: boolean;
  writable: boolean;
}

/**
 * One server-sent event of `GET /v1/processes/{id}/stream` (the JSON on its `data:` line). Every event but `exit`
 * carries an SSE `id:`, the offset in the process's whole output (both streams, in order) just after it: a
 * reconnect with `Last-Event-ID` (or `?from=`) resumes there, with no byte lost or repeated.
 */
export interface ProcessEvent {
  data?: string;
  dropped?: number;
  /**
   * The offset after this event (as its SSE `id`).
   */
  offset: number;
  /**
   * On `exit`: the process as it ended.
   */
  process?: ProcessInfo;
  type: ProcessEventType;
}

/**
 * The type of a process's log event.
 */
export type ProcessEventType = 'stdout' | 'stderr' | 'dropped' | 'exit';

/**
 * A background process, as the SDK's `Process` names it.
 */
export interface ProcessInfo {
  command: string;
  endTime?: string;
  /**
   * Its exit status once it exited by itself; 128 + N when signal N killed it.
   */
  exitCode?: number;
  id: string;
  /**
   * The limits in effect, when there are any.
   */
  limits?: Limits;
  /**
   * Its memory limit killed it (or a process it started).
   */
  oomKilled?: boolean;
  pid: number;
  sessionId?: string;
  /**
   * The signal that killed it (`SIGKILL`, ...), when one did.
   */
  signal?: string;
  /**
   * ISO 8601.
   */
  startTime: string;
  status: ProcessStatus;
}

/**
 * `GET /v1/processes`.
 */
export interface ProcessList {
  count: number;
  processes: ProcessInfo[];
  success: boolean;
}

/**
 * The query of `GET /v1/processes`.
 */
export interface ProcessListQuery {
  /**
   * Only the processes with this status (`?status=running`).
   */
  status?: ProcessStatus;
}

/**
 * `GET /v1/processes/{id}/logs`: what the process wrote so far, as much as its ring holds.
 */
export interface ProcessLogs {
  encoding: Encoding;
  processId: string;
  stderr: string;
  stderrRange: LogRange;
  /**
   * Text (invalid UTF-8 replaced; no newline removed) or base64 (`?encoding=base64`: every byte).
   */
  stdout: string;
  stdoutRange: LogRange;
  success: boolean;
}

/**
 * Where a process is in its life. `completed` (exit code 0) and `failed` (any other) only once the agent has
 * reaped it; `killed` when a signal ended it (`signal` says which); `error` when it could not start.
 */
export type ProcessStatus = 'starting' | 'running' | 'completed' | 'failed' | 'killed' | 'error';

/**
 * A control message of a terminal's WebSocket (a text frame).
 */
export type PtyControl = { cols: number; rows: number; type: 'resize' } | { ptyId: string; type: 'ready' } | { code: number; type: 'exit' };

/**
 * A terminal, as `GET /v1/ptys` lists it.
 */
export interface PtyInfo {
  /**
   * WebSockets attached now.
   */
  attached: number;
  cols: number;
  /**
   * ISO 8601.
   */
  createdAt: string;
  id: string;
  pid: number;
  rows: number;
  sessionId?: string;
}

export interface PtyList {
  count: number;
  ptys: PtyInfo[];
  success: boolean;
}

/**
 * The query of `GET /v1/pty` (the WebSocket that opens a terminal, or reattaches to one).
 */
export interface PtyQuery {
  /**
   * Columns, 80 by default (on a reattach: a resize).
   */
  cols?: number;
  /**
   * Reattach to this terminal instead of opening one.
   */
  ptyId?: string;
  /**
   * Rows, 24 by default (on a reattach: a resize).
   */
  rows?: number;
  /**
   * A new terminal starts in this session's directory with its variables.
   */
  sessionId?: string;
}

export interface ReadFileRequest {
  /**
   * When absent: UTF-8 text for text files, base64 for binary ones.
   */
  encoding?: Encoding;
  /**
   * ... and how many bytes at most. The range, not the file, is what must fit in the 32 MiB.
   */
  length?: number;
  /**
   * A range: the first byte returned (at or past the end: `RANGE_NOT_SATISFIABLE`) ...
   */
  offset?: number;
  path: string;
  sessionId?: string;
}

export interface ReadFileResult {
  content: string;
  encoding: Encoding;
  isBinary: boolean;
  mimeType: string;
  path: string;
  size: number;
  success: boolean;
  timestamp: string;
}

export interface RenameFileRequest {
  newPath: string;
  oldPath: string;
  sessionId?: string;
}

/**
 * Result of rename and move.
 */
export interface RenameResult {
  newPath: string;
  path: string;
  success: boolean;
  timestamp: string;
}

/**
 * Limits as a caller writes them, on `createSession` and `startProcess`. Each absent one is the sandbox's
 * default (the agent's `--limit-*` flags), if it has one.
 */
export interface ResourceLimits {
  /**
   * CPU time, in CPUs: `0.5` is half of one CPU's time, `2` two CPUs'.
   */
  cpu?: number;
  /**
   * Memory of all its processes together: bytes, or a size such as `"512M"`, `"1.5G"`, `"64k"` (powers of
   * 1024). Reaching it kills a process of the session (`exitCode: 137`, `oomKilled: true`).
   */
  memory?: MemorySize;
  /**
   * Processes (and threads) alive at once; a fork past it fails (`Resource temporarily unavailable`).
   */
  pids?: number;
}

/**
 * What a session or a process uses now, where the agent can read it.
 */
export interface ResourceUsage {
  /**
   * CPU time used since it started, in milliseconds.
   */
  cpuMs?: number;
  memoryBytes?: number;
  /**
   * Processes its memory limit killed.
   */
  oomKills?: number;
  pids?: number;
}

/**
 * `restoreBackup`: puts a backup's tree in place of a directory's contents (the directory it was made from by
 * default).
 */
export interface RestoreBackupRequest {
  dir?: string;
}

/**
 * A backup restored.
 */
export interface RestoreBackupResult {
  dir: string;
  files: number;
  id: string;
  sizeBytes: number;
  success: boolean;
}

/**
 * Where a sandbox's agent runs.
 */
export type SandboxMode = 'container' | 'local';

/**
 * `GET /v1/sandboxes/{id}` on the Worker: the sandbox's state.
 */
export interface SandboxStatus {
  /**
   * What the running agent has done since it started (absent when no container runs, or it did not answer in
   * time: the status never starts or waits for one).
   */
  agent?: MetricsSummary;
  /**
   * The commands in flight in the running agent, queued or running (absent as `agent` is).
   */
  commands?: CommandInfo[];
  /**
   * What holds the sandbox's processes, as its running agent reports it (absent as `agent` is).
   */
  containment?: Containment;
  id: string;
  /**
   * Calls the sandbox is answering now (streams included); the idle stop waits for them.
   */
  inFlight?: number;
  /**
   * The sleep settings in effect (`setKeepAlive`, `setSleepAfter`).
   */
  keepAlive?: boolean;
  /**
   * The last automatic restore of the workspace (into a new container, from the last save).
   */
  lastRestore?: SaveOutcome;
  /**
   * The last automatic save of the workspace (before an idle stop), when a backup bucket is bound.
   */
  lastSave?: SaveOutcome;
  mode: SandboxMode;
  /**
   * The network policy in effect, and its latest refusals (absent as `agent` is).
   */
  network?: NetworkState;
  /**
   * Whether the sandbox's container runs.
   */
  running: boolean;
  sleepAfterMs?: number;
  stopReason?: string;
  /**
   * When the container was last stopped by the sandbox itself, and why (`idle for 600 s ...`).
   */
  stoppedAt?: string;
  success: boolean;
}

/**
 * How the sandbox's last automatic save (before an idle stop) or restore (after a new start) went.
 */
export interface SaveOutcome {
  at: string;
  /**
   * Why it failed (the previous save is still the current one).
   */
  error?: string;
  files?: number;
  ok: boolean;
  sizeBytes?: number;
}

/**
 * A secret as it is shown: everything but its value.
 */
export interface SecretInfo {
  format: string;
  header: string;
  hosts: string[];
  name: string;
  /**
   * What the sandbox uses in its place: in a header to one of `hosts`, the proxy puts the value instead.
   */
  placeholder: string;
}

/**
 * `GET /v1/network/secrets`, and the answer to `PUT` and `DELETE`.
 */
export interface SecretList {
  secrets: SecretInfo[];
  success: boolean;
}

/**
 * `GET /v1/sessions/{id}/history`: the newest entries, oldest first.
 */
export interface SessionHistory {
  entries: HistoryEntry[];
  sessionId: string;
  success: boolean;
  /**
   * Commands run in all; more than `entries.len()` when the oldest were dropped.
   */
  total: number;
}

/**
 * What `GET /v1/sessions/{id}` (and session creation) returns.
 */
export interface SessionInfo {
  commandCount: number;
  commandTimeoutMs?: number;
  createdAt: string;
  /**
   * The shell's working directory after its last command.
   */
  cwd: string;
  id: string;
  lastUsedAt: string;
  /**
   * The limits in effect (the session's own, else the sandbox's defaults), when there are any.
   */
  limits?: Limits;
  name?: string;
  status: SessionStatus;
  success: boolean;
  /**
   * What its processes use now, where the agent can read it (with cgroups).
   */
  usage?: ResourceUsage;
}

export interface SessionList {
  count: number;
  sessions: SessionInfo[];
  success: boolean;
}

/**
 * `createSession` options, as the SDK names them.
 */
export interface SessionOptions {
  /**
   * Default timeout of this session's commands, in milliseconds.
   */
  commandTimeoutMs?: number;
  /**
   * The session's starting directory; created when missing.
   */
  cwd?: string;
  /**
   * Exported into the session's shell. A `null` value is skipped, as the SDK skips `undefined`.
   */
  env?: Record<string, string | null>;
  id?: string;
  /**
   * Accepted for SDK compatibility; every session here is an isolated shell.
   */
  isolation?: boolean;
  /**
   * What the session's processes may use together (`{ memory: '512M', pids: 256, cpu: 0.5 }`).
   */
  limits?: ResourceLimits;
  name?: string;
}

export type SessionStatus = 'idle' | 'busy';

/**
 * One session's use, in a sandbox's status and the agent's metrics.
 */
export interface SessionUsage {
  sessionId: string;
  usage: ResourceUsage;
}

/**
 * `POST /v1/env`: `setEnvVars`, exporting variables into a session's shell for its later commands.
 */
export interface SetEnvVarsRequest {
  /**
   * Values are taken literally; a `null` value unsets the variable.
   */
  envVars: Record<string, string | null>;
  /**
   * The default session when absent.
   */
  sessionId?: string;
}

export interface SetEnvVarsResult {
  sessionId: string;
  success: boolean;
  timestamp: string;
}

/**
 * `PUT /v1/network/secrets`: a secret made or replaced (by name).
 */
export interface SetSecretRequest {
  /**
   * How it is written there: `{}` stands for the value (`Bearer {}` by default).
   */
  format?: string;
  /**
   * The request header it goes into (`Authorization` by default), replacing one the sandbox sent.
   */
  header?: string;
  /**
   * The hosts it is sent to (names, `*.` subdomains, addresses; a port optional): at least one.
   */
  hosts: string[];
  /**
   * Letters, digits and `_`, not starting with a digit (a variable's name), at most 64.
   */
  name: string;
  /**
   * What the sandbox sees in its place (made by the sandbox's object, kept across restarts; a caller leaves
   * it out).
   */
  placeholder?: string;
  /**
   * The secret itself: never answered, logged or shown to the sandbox.
   */
  value: string;
}

/**
 * `PUT /v1/sleep`: a field left out keeps its value.
 */
export interface SleepRequest {
  /**
   * `true`: never stopped for being idle (until `false`, or `destroy`); saves still run.
   */
  keepAlive?: boolean;
  /**
   * Idle time before the sandbox sleeps: `90` or `90s`, `500ms`, `10m`, `1h` (at most a week); `default` for
   * the Worker's `SANDBOX_SLEEP_AFTER` again.
   */
  sleepAfter?: string;
}

/**
 * The sleep settings in effect (`GET` and `PUT /v1/sleep`).
 */
export interface SleepSettings {
  keepAlive: boolean;
  /**
   * Whether that is the Worker's `SANDBOX_SLEEP_AFTER` (no `setSleepAfter` of the sandbox's own).
   */
  sleepAfterDefault: boolean;
  /**
   * Milliseconds without a call before the sandbox sleeps (unless `keepAlive`).
   */
  sleepAfterMs: number;
  success: boolean;
}

/**
 * `POST /v1/processes`: starts a program from a session's directory and exported variables (a snapshot taken at
 * the start), in its own process group. It belongs to the sandbox, not the session.
 */
export interface StartProcessRequest {
  /**
   * Forget the process as soon as it has ended (its logs with it), rather than keep it for listing.
   */
  autoCleanup?: boolean;
  /**
   * Run by `bash -c`.
   */
  command: string;
  /**
   * Its working directory instead of the session's.
   */
  cwd?: string;
  /**
   * Set for this process only; a `null` value unsets the variable.
   */
  env?: Record<string, string | null>;
  /**
   * What it and everything it starts may use together (`{ memory: '512M', pids: 256, cpu: 0.5 }`).
   */
  limits?: ResourceLimits;
  /**
   * Chosen by the caller (1-128 of `[A-Za-z0-9._-]`); generated when absent. Unique in the sandbox.
   */
  processId?: string;
  /**
   * Whose directory and exported variables it starts with (the default session when absent).
   */
  sessionId?: string;
  /**
   * Milliseconds: when they pass, the process is killed as `DELETE` kills it. None: it runs until it ends.
   */
  timeout?: number;
}

/**
 * `POST /v1/processes/{id}/stdin`.
 */
export interface StdinRequest {
  data?: string;
  /**
   * How `data` is encoded: `utf-8` (default) or `base64`.
   */
  encoding?: Encoding;
  /**
   * Close the process's stdin after `data` (it reads end-of-input).
   */
  end?: boolean;
}

export interface StdinResult {
  closed: boolean;
  success: boolean;
  /**
   * Bytes written.
   */
  written: number;
}

/**
 * The answer to `DELETE /v1/watch/{id}`.
 */
export interface StopWatchResult {
  /**
   * Whether a watch of that id was open (and is now ended).
   */
  stopped: boolean;
  success: boolean;
  watchId: string;
}

/**
 * `DELETE /v1/sandboxes/{id}/ports/{port}`.
 */
export interface UnexposePortResult {
  port: number;
  success: boolean;
}

/**
 * The answer to an upload: where it went and how many bytes it holds.
 */
export interface UploadResult {
  path: string;
  size: number;
  success: boolean;
  timestamp: string;
}

/**
 * What `POST /v1/processes/{id}/wait` waits for.
 */
export type WaitCondition = 'exit' | 'log' | 'port';

/**
 * `POST /v1/processes/{id}/wait`: one call that returns when the condition holds, evaluated inside the sandbox.
 */
export interface WaitRequest {
  condition: WaitCondition;
  path?: string;
  /**
   * `log`: the text a line must contain, or a regular expression with `regex`.
   */
  pattern?: string;
  port?: number;
  regex?: boolean;
  status?: number;
  /**
   * `log`: only this stream; both when absent.
   */
  stream?: LogStream;
  /**
   * Milliseconds (at most 15 minutes); none waits up to that.
   */
  timeout?: number;
}

export interface WaitResult {
  condition: WaitCondition;
  /**
   * `log`: the line that matched (without its newline).
   */
  line?: string;
  /**
   * The process as it is now (for `exit`, as it ended).
   */
  process: ProcessInfo;
  success: boolean;
}

/**
 * One change.
 */
export interface WatchEvent {
  isDirectory: boolean;
  /**
   * A rename's former path.
   */
  oldPath?: string;
  /**
   * Absolute; the watched path for `ready` and `overflow`.
   */
  path: string;
  timestamp: string;
  type: WatchEventType;
}

export type WatchEventType = 'create' | 'modify' | 'delete' | 'ready' | 'rename' | 'overflow';

/**
 * The query of `GET /v1/watch`.
 */
export interface WatchQuery {
  /**
   * Comma-separated patterns: a path that matches one, or lies under a directory that does, is not reported
   * (nor watched).
   */
  exclude?: string;
  /**
   * Comma-separated patterns (`*` any characters, `?` one) matched against the path relative to the watched
   * directory: only paths that match one are reported.
   */
  include?: string;
  /**
   * A directory (its entries' changes) or a file (its own).
   */
  path: string;
  /**
   * Subdirectories too, those created later included.
   */
  recursive?: boolean;
  sessionId?: string;
  /**
   * The caller's name for the watch, for `DELETE /v1/watch/{id}` to end it (a closed connection does not travel
   * through the Workers in between, so a client that stops reading says so).
   */
  watchId?: string;
}

export interface WriteFileRequest {
  content: string;
  encoding?: Encoding;
  path: string;
  sessionId?: string;
}
