// Errors the client throws: the server's `{ code, message }` as typed errors, one class per family callers
// handle differently, and the codes of the client's own failures (network, cut-off stream).

import type { ServerErrorCode } from './protocol.js';

/** Every code the server sends (generated from the protocol crate), plus the client's own. */
export type ErrorCode =
  | ServerErrorCode
  /** The server could not be reached (the client's own code; `status` is 0). */
  | 'NETWORK_ERROR'
  /** The server answered with something that is not the API's JSON. */
  | 'INVALID_RESPONSE'
  /** A command's (or a process log's) event stream ended without its last event. */
  | 'STREAM_INTERRUPTED'
  /** A method this runtime cannot serve (`openTerminal` outside the Workers runtime); nothing was sent. */
  | 'UNSUPPORTED_RUNTIME';

/** Any error the sandbox reports. `code` is stable; `status` is the HTTP status (0 when there was no answer). */
export class SandboxError extends Error {
  readonly code: ErrorCode | (string & {});
  readonly status: number;
  /** The error body as the server sent it. */
  readonly details: Record<string, unknown>;
  /** The call's id (`X-Request-Id`): the same in the Worker's and the agent's logs. */
  readonly requestId: string | undefined;

  constructor(code: ErrorCode | (string & {}), message: string, status: number, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
    this.requestId = typeof details.requestId === 'string' ? details.requestId : undefined;
  }
}

/** An id, name, path or option was refused (`VALIDATION_FAILED`, `INVALID_JSON`, ...). */
export class ValidationError extends SandboxError {}
export class SessionNotFoundError extends SandboxError {}
export class SessionAlreadyExistsError extends SandboxError {}
export class FileNotFoundError extends SandboxError {}
export class ProcessNotFoundError extends SandboxError {}
/** The sandbox Worker wants a bearer token: pass `token` to `getSandbox`. */
export class UnauthorizedError extends SandboxError {}

/** The sandbox's container cannot be reached now, or is at a limit of memory or work (`RESOURCE_EXHAUSTED`); try
 * again after `retryAfter` seconds. */
export class ContainerUnavailableError extends SandboxError {
  readonly retryAfter: number | undefined;

  constructor(code: string, message: string, status: number, details: Record<string, unknown>, retryAfter: number | undefined) {
    super(code, message, status, details);
    this.retryAfter = retryAfter;
  }
}

const families: Record<string, new (code: string, message: string, status: number, details: Record<string, unknown>) => SandboxError> = {
  VALIDATION_FAILED: ValidationError,
  INVALID_JSON: ValidationError,
  BODY_TOO_LARGE: ValidationError,
  SESSION_NOT_FOUND: SessionNotFoundError,
  SESSION_ALREADY_EXISTS: SessionAlreadyExistsError,
  FILE_NOT_FOUND: FileNotFoundError,
  PROCESS_NOT_FOUND: ProcessNotFoundError,
  UNAUTHORIZED: UnauthorizedError,
};

/** The error for a server's `{ code, message }` body. */
export function errorFromBody(body: unknown, status: number, retryAfter?: string | null): SandboxError {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const code = typeof fields.code === 'string' ? fields.code : status >= 500 ? 'INTERNAL_ERROR' : 'INVALID_RESPONSE';
  const message = typeof fields.message === 'string' ? fields.message : `HTTP ${status}`;
  if (code === 'CONTAINER_UNAVAILABLE' || code === 'SHUTTING_DOWN' || code === 'RESOURCE_EXHAUSTED') {
    const seconds = retryAfter ? Number(retryAfter) : NaN;
    return new ContainerUnavailableError(code, message, status, fields, Number.isFinite(seconds) ? seconds : undefined);
  }
  const Family = families[code] ?? SandboxError;
  return new Family(code, message, status, fields);
}
