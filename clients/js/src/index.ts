// The JavaScript client of sandbox-rs: `getSandbox` and the SDK's methods over a service binding or a URL.

export { getSandbox, Sandbox, type SandboxOptions } from './sandbox.js';
export { ExecutionSession } from './session.js';
export { Process } from './processes.js';
export { parseSSEStream } from './sse.js';
export { collectFile, streamFile } from './file-stream.js';
export { FileWatch } from './file-watch.js';
export { LIMITS } from './protocol.js';
export type { Fetcher, RemoteEndpoint, SandboxBinding } from './transport.js';
export {
  ContainerUnavailableError,
  FileNotFoundError,
  ProcessNotFoundError,
  SandboxError,
  SessionAlreadyExistsError,
  SessionNotFoundError,
  UnauthorizedError,
  ValidationError,
  type ErrorCode,
} from './errors.js';
export type * from './types.js';
