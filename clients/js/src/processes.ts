// Background processes: `Process` (what `startProcess` and `getProcess` return) and the live log that follows a
// process across reconnects. The calls themselves are on `Operations` (the sandbox and its sessions).

import { SandboxError } from './errors.js';
import { ROUTES } from './protocol.js';
import { parseSSEStream } from './sse.js';
import { withId, withQuery, type Transport } from './transport.js';
import type { ProcessEvent, ProcessInfo, ProcessLogs, ProcessLogsOptions, ProcessStatus, StreamLogsOptions, WaitForLogOptions, WaitForPortOptions, WaitResult } from './types.js';
import type * as wire from './wire.js';

/** How often a live log reconnects in a row before it gives up. */
const RECONNECTS = 5;

/** A background process, as it was when last read, with the calls that act on it. */
export class Process implements ProcessInfo {
  readonly id: string;
  readonly pid: number;
  readonly command: string;
  status: ProcessStatus;
  readonly startTime: string;
  endTime?: string;
  exitCode?: number;
  signal?: string;
  readonly sessionId?: string;
  readonly #transport: Transport;

  /** @internal Made by `startProcess` and `getProcess`. */
  constructor(transport: Transport, info: wire.ProcessInfo) {
    this.#transport = transport;
    this.id = info.id;
    this.pid = info.pid;
    this.command = info.command;
    this.status = info.status;
    this.startTime = info.startTime;
    if (info.sessionId !== undefined) this.sessionId = info.sessionId;
    this.#update(info);
  }

  #update(info: wire.ProcessInfo): ProcessInfo {
    this.status = info.status;
    if (info.endTime !== undefined) this.endTime = info.endTime;
    if (info.exitCode !== undefined) this.exitCode = info.exitCode;
    if (info.signal !== undefined) this.signal = info.signal;
    return info;
  }

  /** The status now (and this object's fields brought up to date). */
  async getStatus(): Promise<ProcessStatus> {
    return this.#update(await this.#transport.call<wire.ProcessInfo>('GET', withId(ROUTES.process, this.id))).status;
  }

  /** Ends the process and everything it started (`signal`, `SIGTERM` by default, then `SIGKILL`); resolves once
   * they are gone, with the process as it ended. */
  async kill(signal?: string): Promise<ProcessInfo> {
    return this.#update(await killProcess(this.#transport, this.id, signal));
  }

  getLogs(options: ProcessLogsOptions = {}): Promise<ProcessLogs> {
    return processLogs(this.#transport, this.id, options);
  }

  /** The output as it comes (what is logged first), following the process to its end across reconnects. */
  streamLogs(options: StreamLogsOptions = {}): AsyncGenerator<ProcessEvent> {
    return followLogs(this.#transport, this.id, options);
  }

  /** Resolves when the process has ended, with how it ended. */
  async waitForExit(timeout?: number): Promise<ProcessInfo> {
    const result = await wait(this.#transport, this.id, { condition: 'exit', ...(timeout !== undefined && { timeout }) });
    return this.#update(result.process);
  }

  /** Resolves with the first line of output (already logged, or to come) that contains `pattern` or matches it;
   * rejects with `PROCESS_EXITED` when the process ends first, `WAIT_TIMED_OUT` after `timeout` ms. */
  async waitForLog(pattern: string | RegExp, options: WaitForLogOptions = {}): Promise<WaitResult> {
    const regex = pattern instanceof RegExp;
    const request: wire.WaitRequest = { condition: 'log', pattern: regex ? pattern.source : pattern };
    if (regex) request.regex = true;
    if (options.stream !== undefined) request.stream = options.stream;
    if (options.timeout !== undefined) request.timeout = options.timeout;
    return wait(this.#transport, this.id, request);
  }

  /** Resolves when something listens on `port` inside the sandbox (and, with `path`, answers it with `status`). */
  async waitForPort(port: number, options: WaitForPortOptions = {}): Promise<WaitResult> {
    const request: wire.WaitRequest = { condition: 'port', port };
    if (options.path !== undefined) request.path = options.path;
    if (options.status !== undefined) request.status = options.status;
    if (options.timeout !== undefined) request.timeout = options.timeout;
    return wait(this.#transport, this.id, request);
  }
}

export async function killProcess(transport: Transport, id: string, signal?: string): Promise<wire.ProcessInfo> {
  return transport.call<wire.ProcessInfo>('DELETE', withQuery<wire.KillQuery>(withId(ROUTES.process, id), { signal }));
}

export async function processLogs(transport: Transport, id: string, options: ProcessLogsOptions): Promise<ProcessLogs> {
  const path = withQuery<wire.LogQuery>(withId(ROUTES.processLogs, id), { encoding: options.encoding });
  return transport.call<wire.ProcessLogs>('GET', path);
}

async function wait(transport: Transport, id: string, request: wire.WaitRequest): Promise<WaitResult> {
  return transport.call<wire.WaitResult>('POST', withId(ROUTES.processWait, id), request);
}

/** The process's live log stream (server-sent events), from `options.from`: one connection, its body as it is. */
export async function openLogStream(transport: Transport, id: string, options: StreamLogsOptions = {}): Promise<ReadableStream<Uint8Array>> {
  const path = withQuery<wire.LogQuery>(withId(ROUTES.processStream, id), { from: options.from ?? 0, encoding: options.encoding });
  const response = await transport.open('GET', path, undefined, options.signal);
  if (response.body === null) throw new SandboxError('INVALID_RESPONSE', 'the log stream has no body', response.status);
  return response.body;
}

/**
 * The process's output as events, from `options.from` (an offset; 0 by default), then live, until its `exit`
 * event. A connection that breaks is opened again from the last event's offset, so no byte is lost or repeated;
 * it gives up after a few failures in a row. Leaving the loop, or aborting `options.signal`, closes the stream.
 */
export async function* followLogs(transport: Transport, id: string, options: StreamLogsOptions = {}): AsyncGenerator<ProcessEvent> {
  let from = options.from ?? 0;
  let failures = 0;
  const { signal } = options;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const body = await openLogStream(transport, id, { ...options, from });
      for await (const event of parseSSEStream<wire.ProcessEvent>(body, signal)) {
        failures = 0;
        yield event as ProcessEvent;
        if (event.type === 'exit') return;
        from = event.offset;
      }
      // Ended without `exit`: cut on the way.
      if (++failures > RECONNECTS) throw new SandboxError('STREAM_INTERRUPTED', `the log stream of process ${id} keeps ending before the process does`, 200);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      // An answer of the server (no such process, a bad option) is final; a broken connection is not.
      if (error instanceof SandboxError && error.status !== 0 && error.code !== 'CONTAINER_UNAVAILABLE') throw error;
      if (++failures > RECONNECTS) throw error;
    }
    // Cut before `exit`: resume after a pause that grows with each failure in a row.
    await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 2000)));
  }
}
