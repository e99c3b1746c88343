import type { ServerErrorCode } from './protocol.js';
/** Every code the server sends (generated from the protocol crate), plus the client's own. */
export type ErrorCode = ServerErrorCode
/** The server could not be reached (the client's own code; `status` is 0). */
 | 'NETWORK_ERROR'
/** The server answered with something that is not the API's JSON. */
 | 'INVALID_RESPONSE'
/** A command's (or a process log's) event stream ended without its last event. */
 | 'STREAM_INTERRUPTED'
/** A method this runtime cannot serve (`openTerminal` outside the Workers runtime); nothing was sent. */
 | 'UNSUPPORTED_RUNTIME';
/** Any error the sandbox reports. `code` is stable; `status` is the HTTP status (0 when there was no answer). */
export declare class SandboxError extends Error {
    readonly code: ErrorCode | (string & {});
    readonly status: number;
    /** The error body as the server sent it. */
    readonly details: Record<string, unknown>;
    /** The call's id (`X-Request-Id`): the same in the Worker's and the agent's logs. */
    readonly requestId: string | undefined;
    constructor(code: ErrorCode | (string & {}), message: string, status: number, details?: Record<string, unknown>, options?: ErrorOptions);
}
/** An id, name, path or option was refused (`VALIDATION_FAILED`, `INVALID_JSON`, ...). */
export declare class ValidationError extends SandboxError {
}
export declare class SessionNotFoundError extends SandboxError {
}
export declare class SessionAlreadyExistsError extends SandboxError {
}
export declare class FileNotFoundError extends SandboxError {
}
export declare class ProcessNotFoundError extends SandboxError {
}
/** The sandbox Worker wants a bearer token: pass `token` to `getSandbox`. */
export declare class UnauthorizedError extends SandboxError {
}
/** The sandbox's container cannot be reached now, or is at a limit of memory or work (`RESOURCE_EXHAUSTED`); try
 * again after `retryAfter` seconds. */
export declare class ContainerUnavailableError extends SandboxError {
    readonly retryAfter: number | undefined;
    constructor(code: string, message: string, status: number, details: Record<string, unknown>, retryAfter: number | undefined);
}
/** The error for a server's `{ code, message }` body. */
export declare function errorFromBody(body: unknown, status: number, retryAfter?: string | null): SandboxError;
