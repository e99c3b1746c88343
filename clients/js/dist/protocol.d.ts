/** Each route, as a path under `/v1/sandboxes/{sandboxId}`; `{id}` is a session id. */
export declare const ROUTES: {
    /** GET */
    readonly health: "/health";
    /** GET, POST */
    readonly sessions: "/sessions";
    /** GET, DELETE */
    readonly session: "/sessions/{id}";
    /** GET */
    readonly sessionHistory: "/sessions/{id}/history";
    /** POST */
    readonly env: "/env";
    /** POST */
    readonly exec: "/exec";
    /** POST */
    readonly execStream: "/exec/stream";
    /** POST */
    readonly execCancel: "/exec/cancel";
    /** GET */
    readonly commands: "/commands";
    /** POST */
    readonly filesList: "/files/list";
    /** POST */
    readonly filesWrite: "/files/write";
    /** POST */
    readonly filesRead: "/files/read";
    /** POST */
    readonly filesMkdir: "/files/mkdir";
    /** POST */
    readonly filesDelete: "/files/delete";
    /** POST */
    readonly filesRename: "/files/rename";
    /** POST */
    readonly filesMove: "/files/move";
    /** POST */
    readonly filesExists: "/files/exists";
    /** GET, PUT */
    readonly filesContent: "/files/content";
    /** POST */
    readonly gitCheckout: "/git/checkout";
    /** GET */
    readonly watch: "/watch";
    /** POST */
    readonly watchChanges: "/watch/changes";
    /** DELETE */
    readonly watchOne: "/watch/{id}";
    /** GET, POST, DELETE */
    readonly processes: "/processes";
    /** GET, DELETE */
    readonly process: "/processes/{id}";
    /** GET */
    readonly processLogs: "/processes/{id}/logs";
    /** GET */
    readonly processStream: "/processes/{id}/stream";
    /** POST */
    readonly processStdin: "/processes/{id}/stdin";
    /** POST */
    readonly processWait: "/processes/{id}/wait";
    /** GET */
    readonly pty: "/pty";
    /** GET */
    readonly ptys: "/ptys";
    /** DELETE */
    readonly ptyOne: "/ptys/{id}";
    /** GET, POST */
    readonly ports: "/ports";
    /** DELETE */
    readonly port: "/ports/{id}";
    /** GET */
    readonly metrics: "/metrics";
    /** GET, DELETE */
    readonly sandbox: "";
    /** GET, POST */
    readonly backups: "/backups";
    /** DELETE */
    readonly backup: "/backups/{id}";
    /** POST */
    readonly backupRestore: "/backups/{id}/restore";
    /** POST */
    readonly fork: "/fork";
    /** GET, PUT */
    readonly sleep: "/sleep";
    /** GET, PUT */
    readonly networkPolicy: "/network/policy";
    /** GET, PUT */
    readonly secrets: "/network/secrets";
    /** DELETE */
    readonly secret: "/network/secrets/{id}";
};
/** The prefix of one sandbox's routes. */
export declare const SANDBOXES_PREFIX = "/v1/sandboxes/";
/** Every error code a server sends, with the HTTP status it comes with. */
export declare const ERROR_STATUS: {
    readonly VALIDATION_FAILED: 400;
    readonly INVALID_JSON: 400;
    readonly BODY_TOO_LARGE: 413;
    readonly REQUEST_TIMEOUT: 408;
    readonly NOT_FOUND: 404;
    readonly METHOD_NOT_ALLOWED: 405;
    readonly SESSION_NOT_FOUND: 404;
    readonly SESSION_ALREADY_EXISTS: 409;
    readonly DEFAULT_SESSION_PROTECTED: 400;
    readonly FILE_NOT_FOUND: 404;
    readonly NOT_DIRECTORY: 400;
    readonly IS_DIRECTORY: 400;
    readonly FILE_EXISTS: 409;
    readonly DIRECTORY_NOT_EMPTY: 409;
    readonly PERMISSION_DENIED: 403;
    readonly FILE_TOO_LARGE: 413;
    readonly GIT_REPOSITORY_NOT_FOUND: 404;
    readonly GIT_BRANCH_NOT_FOUND: 404;
    readonly GIT_AUTH_FAILED: 403;
    readonly GIT_NETWORK_ERROR: 502;
    readonly GIT_CLONE_FAILED: 422;
    readonly WATCH_LIMIT: 429;
    readonly EGRESS_UNAVAILABLE: 501;
    readonly TOO_MANY_SECRETS: 429;
    readonly SECRET_NOT_FOUND: 404;
    readonly RANGE_NOT_SATISFIABLE: 416;
    readonly UNSUPPORTED_FILE_TYPE: 400;
    readonly NO_SPACE: 507;
    readonly UNAUTHORIZED: 401;
    readonly CROSS_SITE_REFUSED: 403;
    readonly UNSUPPORTED_MEDIA_TYPE: 415;
    readonly TOO_MANY_SESSIONS: 429;
    readonly PROCESS_NOT_FOUND: 404;
    readonly PROCESS_ALREADY_EXISTS: 409;
    readonly TOO_MANY_PROCESSES: 429;
    readonly PROCESS_NOT_RUNNING: 409;
    readonly PROCESS_EXITED: 409;
    readonly WAIT_TIMED_OUT: 408;
    readonly PORT_NOT_EXPOSED: 404;
    readonly TOO_MANY_SANDBOXES: 429;
    readonly PTY_NOT_FOUND: 404;
    readonly RESOURCE_EXHAUSTED: 503;
    readonly CONTAINER_UNAVAILABLE: 503;
    readonly SHUTTING_DOWN: 503;
    readonly AGENT_RESTARTED: 412;
    readonly BACKUPS_NOT_CONFIGURED: 501;
    readonly SANDBOX_ALREADY_EXISTS: 409;
    readonly BACKUP_NOT_FOUND: 404;
    readonly BACKUP_INVALID: 422;
    readonly FILE_CHANGED: 409;
    readonly LIMITS_UNAVAILABLE: 501;
    readonly INTERNAL_ERROR: 500;
};
/** An error code a server sends. */
export type ServerErrorCode = keyof typeof ERROR_STATUS;
/** How a command ended (`ExecResult.ended`). */
export type CommandEnd = 'exited' | 'timedOut' | 'cancelled';
/** The session that calls without a `sessionId` use. */
export declare const DEFAULT_SESSION_ID = "default";
/** Response header listing the sessions the Worker re-created after the agent restarted. */
export declare const SESSIONS_RECREATED_HEADER = "x-sandbox-sessions-recreated";
/** Request header with the `Host` a browser page named, when a caller hands its WebSocket on. */
export declare const PAGE_HOST_HEADER = "x-sandbox-page-host";
/** The `Content-Type` of an upload sent as frames (`protocol/src/frames.rs`): 4 bytes of length, big-endian, then the bytes; a frame of length 0 ends it. */
export declare const FRAMED_CONTENT_TYPE = "application/vnd.sandbox-rs.framed";
/** The largest frame of a framed upload. */
export declare const MAX_FRAME = 16777216;
/** The origin of requests through a service binding (the binding ignores it). */
export declare const BINDING_ORIGIN = "https://sandbox";
/** The sizes the servers hold to (`protocol/src/limits.rs`). */
export declare const LIMITS: {
    /** The largest JSON request body, in bytes (a writeFile of bytes or a stream has no limit). */
    readonly maxBodyBytes: 33554432;
    /** The largest file (or range) readFile returns in JSON (readFileStream has no limit). */
    readonly maxReadFileBytes: 33554432;
    /** Each output stream of exec is kept up to this unless maxOutputBytes says otherwise. */
    readonly defaultMaxOutputBytes: 16777216;
    /** The largest maxOutputBytes. */
    readonly maxOutputBytes: 67108864;
    /** A command's timeout, in ms, when neither its call nor its session sets one (0 in either: none). */
    readonly defaultCommandTimeoutMs: 600000;
};
