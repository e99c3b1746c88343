// Errors the client throws: the server's `{ code, message }` as typed errors, one class per family callers
// handle differently, and the codes of the client's own failures (network, cut-off stream).
/** Any error the sandbox reports. `code` is stable; `status` is the HTTP status (0 when there was no answer). */
export class SandboxError extends Error {
    code;
    status;
    /** The error body as the server sent it. */
    details;
    /** The call's id (`X-Request-Id`): the same in the Worker's and the agent's logs. */
    requestId;
    constructor(code, message, status, details = {}, options) {
        super(message, options);
        this.name = new.target.name;
        this.code = code;
        this.status = status;
        this.details = details;
        this.requestId = typeof details.requestId === 'string' ? details.requestId : undefined;
    }
}
/** An id, name, path or option was refused (`VALIDATION_FAILED`, `INVALID_JSON`, ...). */
export class ValidationError extends SandboxError {
}
export class SessionNotFoundError extends SandboxError {
}
export class SessionAlreadyExistsError extends SandboxError {
}
export class FileNotFoundError extends SandboxError {
}
export class ProcessNotFoundError extends SandboxError {
}
/** The sandbox Worker wants a bearer token: pass `token` to `getSandbox`. */
export class UnauthorizedError extends SandboxError {
}
/** The sandbox's container cannot be reached now, or is at a limit of memory or work (`RESOURCE_EXHAUSTED`); try
 * again after `retryAfter` seconds. */
export class ContainerUnavailableError extends SandboxError {
    retryAfter;
    constructor(code, message, status, details, retryAfter) {
        super(code, message, status, details);
        this.retryAfter = retryAfter;
    }
}
const families = {
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
export function errorFromBody(body, status, retryAfter) {
    const fields = typeof body === 'object' && body !== null ? body : {};
    const code = typeof fields.code === 'string' ? fields.code : status >= 500 ? 'INTERNAL_ERROR' : 'INVALID_RESPONSE';
    const message = typeof fields.message === 'string' ? fields.message : `HTTP ${status}`;
    if (code === 'CONTAINER_UNAVAILABLE' || code === 'SHUTTING_DOWN' || code === 'RESOURCE_EXHAUSTED') {
        const seconds = retryAfter ? Number(retryAfter) : NaN;
        return new ContainerUnavailableError(code, message, status, fields, Number.isFinite(seconds) ? seconds : undefined);
    }
    const Family = families[code] ?? SandboxError;
    return new Family(code, message, status, fields);
}
