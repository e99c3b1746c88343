// Generated from the protocol crate (protocol/src/typescript.rs): do not edit. `cargo test -p sandbox-protocol`
// fails when this file and the crate differ; `SANDBOX_WRITE_GENERATED=1 cargo test -p sandbox-protocol`
// writes it anew.

/** Each route, as a path under `/v1/sandboxes/{sandboxId}`; `{id}` is a session id. */
export const ROUTES = {
  /** GET */
  health: '/health',
  /** GET, POST */
  sessions: '/sessions',
  /** GET, DELETE */
  session: '/sessions/{id}',
  /** GET */
  sessionHistory: '/sessions/{id}/history',
  /** POST */
  env: '/env',
  /** POST */
  exec: '/exec',
  /** POST */
  execStream: '/exec/stream',
  /** POST */
  execCancel: '/exec/cancel',
  /** GET */
  commands: '/commands',
  /** POST */
  filesList: '/files/list',
  /** POST */
  filesWrite: '/files/write',
  /** POST */
  filesRead: '/files/read',
  /** POST */
  filesMkdir: '/files/mkdir',
  /** POST */
  filesDelete: '/files/delete',
  /** POST */
  filesRename: '/files/rename',
  /** POST */
  filesMove: '/files/move',
  /** POST */
  filesExists: '/files/exists',
  /** GET, PUT */
  filesContent: '/files/content',
  /** POST */
  gitCheckout: '/git/checkout',
  /** GET */
  watch: '/watch',
  /** POST */
  watchChanges: '/watch/changes',
  /** DELETE */
  watchOne: '/watch/{id}',
  /** GET, POST, DELETE */
  processes: '/processes',
  /** GET, DELETE */
  process: '/processes/{id}',
  /** GET */
  processLogs: '/processes/{id}/logs',
  /** GET */
  processStream: '/processes/{id}/stream',
  /** POST */
  processStdin: '/processes/{id}/stdin',
  /** POST */
  processWait: '/processes/{id}/wait',
  /** GET */
  pty: '/pty',
  /** GET */
  ptys: '/ptys',
  /** DELETE */
  ptyOne: '/ptys/{id}',
  /** GET, POST */
  ports: '/ports',
  /** DELETE */
  port: '/ports/{id}',
  /** GET */
  metrics: '/metrics',
  /** GET, DELETE */
  sandbox: '',
  /** GET, POST */
  backups: '/backups',
  /** DELETE */
  backup: '/backups/{id}',
  /** POST */
  backupRestore: '/backups/{id}/restore',
  /** POST */
  fork: '/fork',
  /** GET, PUT */
  sleep: '/sleep',
  /** GET, PUT */
  networkPolicy: '/network/policy',
  /** GET, PUT */
  secrets: '/network/secrets',
  /** DELETE */
  secret: '/network/secrets/{id}',
} as const;

/** The prefix of one sandbox's routes. */
export const SANDBOXES_PREFIX = '/v1/sandboxes/';

/** Every error code a server sends, with the HTTP status it comes with. */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  BODY_TOO_LARGE: 413,
  REQUEST_TIMEOUT: 408,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  SESSION_NOT_FOUND: 404,
  SESSION_ALREADY_EXISTS: 409,
  DEFAULT_SESSION_PROTECTED: 400,
  FILE_NOT_FOUND: 404,
  NOT_DIRECTORY: 400,
  IS_DIRECTORY: 400,
  FILE_EXISTS: 409,
  DIRECTORY_NOT_EMPTY: 409,
  PERMISSION_DENIED: 403,
  FILE_TOO_LARGE: 413,
  GIT_REPOSITORY_NOT_FOUND: 404,
  GIT_BRANCH_NOT_FOUND: 404,
  GIT_AUTH_FAILED: 403,
  GIT_NETWORK_ERROR: 502,
  GIT_CLONE_FAILED: 422,
  WATCH_LIMIT: 429,
  EGRESS_UNAVAILABLE: 501,
  TOO_MANY_SECRETS: 429,
  SECRET_NOT_FOUND: 404,
  RANGE_NOT_SATISFIABLE: 416,
  UNSUPPORTED_FILE_TYPE: 400,
  NO_SPACE: 507,
  UNAUTHORIZED: 401,
  CROSS_SITE_REFUSED: 403,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_SESSIONS: 429,
  PROCESS_NOT_FOUND: 404,
  PROCESS_ALREADY_EXISTS: 409,
  TOO_MANY_PROCESSES: 429,
  PROCESS_NOT_RUNNING: 409,
  PROCESS_EXITED: 409,
  WAIT_TIMED_OUT: 408,
  PORT_NOT_EXPOSED: 404,
  TOO_MANY_SANDBOXES: 429,
  PTY_NOT_FOUND: 404,
  RESOURCE_EXHAUSTED: 503,
  CONTAINER_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  AGENT_RESTARTED: 412,
  BACKUPS_NOT_CONFIGURED: 501,
  SANDBOX_ALREADY_EXISTS: 409,
  BACKUP_NOT_FOUND: 404,
  BACKUP_INVALID: 422,
  FILE_CHANGED: 409,
  LIMITS_UNAVAILABLE: 501,
  INTERNAL_ERROR: 500,
} as const;

/** An error code a server sends. */
export type ServerErrorCode = keyof typeof ERROR_STATUS;

/** How a command ended (`ExecResult.ended`). */
export type CommandEnd =
  | 'exited'
  | 'timedOut'
  | 'cancelled';

/** The session that calls without a `sessionId` use. */
export const DEFAULT_SESSION_ID = 'default';

/** Response header listing the sessions the Worker re-created after the agent restarted. */
export const SESSIONS_RECREATED_HEADER = 'x-sandbox-sessions-recreated';

/** Request header with the `Host` a browser page named, when a caller hands its WebSocket on. */
export const PAGE_HOST_HEADER = 'x-sandbox-page-host';

/** The `Content-Type` of an upload sent as frames (`protocol/src/frames.rs`): 4 bytes of length, big-endian, then the bytes; a frame of length 0 ends it. */
export const FRAMED_CONTENT_TYPE = 'application/vnd.sandbox-rs.framed';

/** The largest frame of a framed upload. */
export const MAX_FRAME = 16777216;

/** The origin of requests through a service binding (the binding ignores it). */
export const BINDING_ORIGIN = 'https://sandbox';

/** The sizes the servers hold to (`protocol/src/limits.rs`). */
export const LIMITS = {
  /** The largest JSON request body, in bytes (a writeFile of bytes or a stream has no limit). */
  maxBodyBytes: 33554432,
  /** The largest file (or range) readFile returns in JSON (readFileStream has no limit). */
  maxReadFileBytes: 33554432,
  /** Each output stream of exec is kept up to this unless maxOutputBytes says otherwise. */
  defaultMaxOutputBytes: 16777216,
  /** The largest maxOutputBytes. */
  maxOutputBytes: 67108864,
  /** A command's timeout, in ms, when neither its call nor its session sets one (0 in either: none). */
  defaultCommandTimeoutMs: 600000,
} as const;
