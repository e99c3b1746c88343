// The types of the client's API: every option and result, named and shaped as in the Cloudflare Sandbox SDK.
// Each result agrees with its wire type (wire.ts, generated from the `sandbox-protocol` crate that the agent and the
// Worker use): wire-check.ts does not compile when they drift apart.

/** How output and file contents are carried: text, or the exact bytes as base64. */
export type Encoding = 'utf-8' | 'utf8' | 'base64';

/**
 * Variables for a command or a session. A `null` value unsets the variable; an `undefined` value is skipped, as in
 * the SDK.
 */
export type EnvVars = Record<string, string | null | undefined>;

export interface ExecOptions {
  /** Milliseconds; the command's whole process tree is killed when it passes. `0`: no timeout. */
  timeout?: number;
  /** For this command only; the session's own values are back afterwards. */
  env?: EnvVars;
  /** Working directory for this command only. */
  cwd?: string;
  /** `utf-8` (default: invalid bytes replaced, one trailing newline removed) or `base64` (exact bytes). */
  encoding?: Encoding;
  /** Cap on each of stdout and stderr in the result, in bytes; `truncated` tells when it was hit. */
  maxOutputBytes?: number;
  /** Run streamed and call `onOutput` as output arrives; `exec` still resolves with the whole result. */
  stream?: boolean;
  onOutput?: (stream: 'stdout' | 'stderr', data: string) => void;
  onComplete?: (result: ExecResult) => void;
  onError?: (error: Error) => void;
  /** Aborting kills the command in the sandbox, and `exec` rejects with the signal's reason. */
  signal?: AbortSignal;
}

import type { CommandEnd } from './protocol.js';

export type { CommandEnd, ServerErrorCode } from './protocol.js';

export interface ExecResult {
  success: boolean;
  exitCode: number;
  stdout: string;
  stderr: string;
  command: string;
  /** Milliseconds. */
  duration: number;
  /** When the command started, ISO 8601. */
  timestamp: string;
  sessionId: string;
  /**
   * How the command ended: by itself (`exitCode` is its status), stopped by its timeout (exit code 124) or
   * cancelled (exit code 130). A command may exit with 124 or 130 by itself; only this tells them apart.
   */
  ended: CommandEnd;
  /** `ended === 'timedOut'`. */
  timedOut: boolean;
  /** Output passed `maxOutputBytes` and was cut. */
  truncated: boolean;
  encoding: 'utf-8' | 'base64';
  /** Its session's memory limit killed it (`exitCode` 137); `message` says so. */
  oomKilled?: boolean;
  /** What the sandbox has to say of how the command ended, beyond its output (a memory limit reached). */
  message?: string;
  /** The command's id: the `commandId` it was sent with, or the one the sandbox gave it. */
  commandId?: string;
}

export type ExecEventType = 'start' | 'stdout' | 'stderr' | 'complete' | 'error';

/** One server-sent event of `execStream`. */
export interface ExecEvent {
  type: ExecEventType;
  timestamp: string;
  /** Output of a `stdout` or `stderr` event, in the requested encoding. */
  data?: string;
  command?: string;
  /** On `complete`. */
  exitCode?: number;
  /** On `complete`: the result, with empty `stdout` and `stderr` (the output went out as events). */
  result?: ExecResult;
  /** On `error`. */
  error?: { code: string; message: string };
  sessionId?: string;
  /** On `start`: the command's id, which `cancelCommand` takes. */
  commandId?: string;
}

export interface SessionOptions {
  /** 1-128 characters; generated when absent. */
  id?: string;
  name?: string;
  /** Exported into the session's shell. */
  env?: EnvVars;
  /** The session's starting directory; created when missing. */
  cwd?: string;
  /** Accepted for SDK compatibility: every session is an isolated shell. */
  isolation?: boolean;
  /** Default timeout of the session's commands, in milliseconds. */
  commandTimeoutMs?: number;
  /**
   * What the session's processes may use together: `{ memory: '512M', pids: 256, cpu: 0.5 }` (memory in bytes
   * or with a unit, powers of 1024; `cpu` in CPUs). Each absent one is the sandbox's default, if it has one. A
   * sandbox that cannot enforce them refuses them (`LIMITS_UNAVAILABLE`).
   */
  limits?: ResourceLimits;
}

export interface SessionInfo {
  success: boolean;
  id: string;
  name?: string;
  cwd: string;
  status: 'idle' | 'busy';
  createdAt: string;
  lastUsedAt: string;
  commandCount: number;
  commandTimeoutMs?: number;
  /** The limits in effect, in numbers (`cpuMillis`: thousandths of a CPU). */
  limits?: Limits;
  /** What its processes use now, where the sandbox can tell (with cgroups). */
  usage?: ResourceUsage;
}

export interface SessionList {
  success: boolean;
  sessions: SessionInfo[];
  count: number;
}

export interface HistoryEntry {
  command: string;
  exitCode: number;
  startedAt: string;
  duration: number;
  timedOut: boolean;
}

export interface SessionHistory {
  success: boolean;
  sessionId: string;
  /** The newest commands, oldest first. */
  entries: HistoryEntry[];
  /** Commands run in all. */
  total: number;
}

export interface SessionDeleteResult {
  success: boolean;
  sessionId: string;
  timestamp: string;
}

export interface SetEnvVarsResult {
  success: boolean;
  sessionId: string;
  timestamp: string;
}

export interface ListFilesOptions {
  recursive?: boolean;
  includeHidden?: boolean;
}

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

export interface FileInfo {
  name: string;
  absolutePath: string;
  relativePath: string;
  type: FileType;
  size: number;
  modifiedAt: string;
  /** For example `rwxr-xr-x`. */
  mode: string;
  /** The owner's bits. */
  permissions: { readable: boolean; writable: boolean; executable: boolean };
}

export interface ListFilesResult {
  success: boolean;
  path: string;
  files: FileInfo[];
  count: number;
  timestamp: string;
}

export interface WriteFileOptions {
  /** How `content` is encoded when it is a string: `utf-8` (default) or `base64`. */
  encoding?: Encoding;
}

export interface ReadFileOptions {
  /** Without it: `utf-8` for text, `base64` for binary content. */
  encoding?: Encoding;
  /** A range: the first byte returned (at or past the end of the file: `RANGE_NOT_SATISFIABLE`). */
  offset?: number;
  /** A range: how many bytes at most. The range, not the file, must fit in `LIMITS.maxReadFileBytes`. */
  length?: number;
}

export interface ReadFileStreamOptions {
  /** The first byte sent (at or past the end of the file: `RANGE_NOT_SATISFIABLE`). */
  offset?: number;
  /** How many bytes at most; to the end of the file when absent. */
  length?: number;
  /** Aborting it stops the read in the sandbox. */
  signal?: AbortSignal;
}

export interface WatchOptions {
  /** Subdirectories too, those made later included. */
  recursive?: boolean;
  /** Patterns (`*` any characters, `?` one) matched against paths relative to the watched directory: only matches are reported. */
  include?: string[];
  /** Patterns: a path that matches, or lies under a directory that does, is neither reported nor watched. */
  exclude?: string[];
  /** Aborting it ends the watch. */
  signal?: AbortSignal;
}

export type WatchEventType = 'ready' | 'create' | 'modify' | 'delete' | 'rename' | 'overflow';

/** One change a watch saw. `overflow`: changes were dropped (the reader fell behind); list the path again. */
export interface WatchEvent {
  type: WatchEventType;
  /** Absolute; the watched path for `ready` and `overflow`. */
  path: string;
  /** A rename's former path. */
  oldPath?: string;
  isDirectory: boolean;
  timestamp: string;
}

export interface CheckChangesOptions {
  /** The previous answer's `cursor`; without it, the watch is put in place and a first cursor answered. */
  since?: string;
  recursive?: boolean;
  include?: string[];
  exclude?: string[];
}

export interface CheckChangesResult {
  success: boolean;
  path: string;
  /** For the next call's `since`. */
  cursor: string;
  /** The changes after `since`, oldest first. */
  changes: WatchEvent[];
  /** Changes were lost (too many, or the cursor is not the agent's any more): list the path again. */
  overflow: boolean;
  timestamp: string;
}

export interface GitCheckoutOptions {
  /** The branch or tag; the repository's default branch when absent. */
  branch?: string;
  /** Where the clone goes (absent or an empty directory); the repository's name in the session's directory by default. */
  targetDir?: string;
  /** A shallow clone of this many commits. */
  depth?: number;
  /** Milliseconds; the clone is stopped when it passes. */
  timeout?: number;
}

export interface GitCheckoutResult {
  success: boolean;
  repoUrl: string;
  /** The branch checked out (the default branch's name when none was asked for). */
  branch: string;
  /** Where the clone is, absolute. */
  targetDir: string;
  timestamp: string;
}

/** What `writeFile` of bytes or a stream answers: a `FileOpResult` with the size written. */
export interface UploadResult extends FileOpResult {
  size: number;
}

export interface ReadFileResult {
  success: boolean;
  path: string;
  content: string;
  timestamp: string;
  encoding: 'utf-8' | 'base64';
  isBinary: boolean;
  mimeType: string;
  size: number;
}

export interface MkdirOptions {
  recursive?: boolean;
}

export interface FileOpResult {
  success: boolean;
  path: string;
  timestamp: string;
}

export interface MkdirResult extends FileOpResult {
  recursive: boolean;
}

export interface RenameFileResult extends FileOpResult {
  newPath: string;
}

export interface ExistsResult {
  success: boolean;
  path: string;
  exists: boolean;
  timestamp: string;
}

export interface SandboxStatus {
  success: boolean;
  id: string;
  /** `container` in production, `local` when the Worker forwards to a host agent. */
  mode: 'container' | 'local';
  running: boolean;
  /** Calls the sandbox is answering now (streams included); the idle stop waits for them. */
  inFlight: number;
  /** When the container was last stopped by the sandbox itself, and why. */
  stoppedAt?: string;
  stopReason?: string;
  /**
   * What the running agent has done since it started (sessions alive, commands by how they ended, output bytes,
   * limits hit, shells lost). Absent when no container runs or its agent did not answer in time: a status never
   * starts one. In local mode one host agent serves every sandbox, and this counts them all.
   */
  agent?: MetricsSummary;
  /** The commands in flight, running or queued (absent as `agent` is). */
  commands?: CommandInfo[];
  /**
   * With a backup bucket bound: how the last automatic save of the workspace (before an idle stop) went. A failed
   * one says why; the save before it stays the one a new container gets back.
   */
  lastSave?: SaveOutcome;
  /** How the last automatic restore of the workspace (into a new container) went. */
  lastRestore?: SaveOutcome;
  /** `setKeepAlive(true)`: never stopped for being idle. */
  keepAlive: boolean;
  /** Milliseconds without a call before the sandbox sleeps (`setSleepAfter`, or the Worker's `SANDBOX_SLEEP_AFTER`). */
  sleepAfterMs: number;
  /**
   * What holds the sandbox's processes (absent as `agent` is): `cgroup`, a cgroup per session, background process
   * and terminal, which nothing started there can leave; or `process-group`, where the agent cannot make cgroups,
   * and a process that double-forks and calls `setsid` outlives its session.
   */
  containment?: Containment;
  /** The network policy in effect and its latest refusals (absent as `agent` is). */
  network?: NetworkState;
}

export type {
  CommandCounts,
  CommandInfo,
  CommandState,
  Containment,
  Limits,
  MemorySize,
  MetricsSummary,
  ResourceLimits,
  ResourceUsage,
  SaveOutcome,
} from './wire.js';
import type { Limits, ResourceLimits, ResourceUsage } from './wire.js';
import type { CommandInfo, Containment, MetricsSummary, NetworkState, SaveOutcome } from './wire.js';

export interface DestroyResult {
  success: boolean;
  id: string;
}

/** Options of `startProcess`. */
export interface ProcessOptions {
  /** 1-128 of `[A-Za-z0-9._-]`, unique in the sandbox; generated when absent. */
  processId?: string;
  /** Set for this process only (`null` unsets); it otherwise inherits the session's exported variables. */
  env?: EnvVars;
  /** Its working directory instead of the session's. */
  cwd?: string;
  /** Milliseconds; the process is killed (its whole tree) when they pass. */
  timeout?: number;
  /** Forget the process (and its log) once it has ended, instead of keeping it for listing. */
  autoCleanup?: boolean;
  /** What it and all it starts may use together, as a session's `limits`. */
  limits?: ResourceLimits;
}

export interface ProcessLogsOptions {
  /** `utf-8` (default: invalid bytes replaced) or `base64` (exact bytes). */
  encoding?: 'utf-8' | 'base64';
}

export interface StreamLogsOptions extends ProcessLogsOptions {
  /** The offset to start at (an event's `offset`); 0, the start of what the log holds, by default. */
  from?: number;
  /** Aborting closes the stream (the process runs on). */
  signal?: AbortSignal;
}

export interface WaitForLogOptions {
  /** Only this stream; both by default. */
  stream?: 'stdout' | 'stderr';
  /** Milliseconds (at most 15 minutes, the default). */
  timeout?: number;
}

export interface WaitForPortOptions {
  /** Also wait until an HTTP `GET` of this path answers with `status`. */
  path?: string;
  /** With `path`: the status to wait for (200 by default). */
  status?: number;
  /** Milliseconds (at most 15 minutes, the default). */
  timeout?: number;
}

/** What `killTerminal` answers. */
export interface TerminalKillResult {
  success: boolean;
  ptyId: string;
  timestamp: string;
}

/** Options of `terminal` and `openTerminal`. */
export interface TerminalOptions {
  /** The terminal's size (80 x 24 by default; at most 1000 each way). */
  cols?: number;
  rows?: number;
  /** Reattach this terminal (its recent output is replayed first) instead of opening a new one. */
  ptyId?: string;
  /**
   * `terminal(request)` only: origins of pages besides the caller's own that may open one (exact matches, such as
   * `https://console.example.com`). Every other site's page is refused.
   */
  allowedOrigins?: readonly string[];
}

/** Options of `createBackup`. */
export interface BackupOptions {
  /** The directory to save (the workspace by default). */
  dir?: string;
  /** A name of yours, shown by `listBackups`. */
  name?: string;
  /** Seconds the backup is kept: 3 days by default, 30 at most. */
  ttl?: number;
}

/** Options of `setSecret`. */
export interface SecretOptions {
  /** The hosts the secret is sent to: names, `*.` subdomains, addresses, each optionally with a port. */
  hosts: string[];
  /** The request header it goes into (`Authorization` by default). */
  header?: string;
  /** How it is written there, `{}` standing for the value (`Bearer {}` by default). */
  format?: string;
}

/** Options of `restoreBackup`. */
export interface RestoreBackupOptions {
  /** The directory to restore into (the one the backup was made from by default); its contents are replaced. */
  dir?: string;
}

export type {
  Backup,
  EgressDenial,
  HostCount,
  NetworkPolicy,
  NetworkState,
  RestoreBackupResult,
  SecretInfo,
  SecretList,
  SleepSettings,
  ExposedPort,
  PtyControl,
  PtyInfo,
  KillAllResult,
  LogRange,
  ProcessEvent,
  ProcessEventType,
  ProcessInfo,
  ProcessList,
  ProcessLogs,
  ProcessStatus,
  WaitResult,
} from './wire.js';
