import { type Transport } from './transport.js';
import type { ProcessEvent, ProcessInfo, ProcessLogs, ProcessLogsOptions, ProcessStatus, StreamLogsOptions, WaitForLogOptions, WaitForPortOptions, WaitResult } from './types.js';
import type * as wire from './wire.js';
/** A background process, as it was when last read, with the calls that act on it. */
export declare class Process implements ProcessInfo {
    #private;
    readonly id: string;
    readonly pid: number;
    readonly command: string;
    status: ProcessStatus;
    readonly startTime: string;
    endTime?: string;
    exitCode?: number;
    signal?: string;
    readonly sessionId?: string;
    /** @internal Made by `startProcess` and `getProcess`. */
    constructor(transport: Transport, info: wire.ProcessInfo);
    /** The status now (and this object's fields brought up to date). */
    getStatus(): Promise<ProcessStatus>;
    /** Ends the process and everything it started (`signal`, `SIGTERM` by default, then `SIGKILL`); resolves once
     * they are gone, with the process as it ended. */
    kill(signal?: string): Promise<ProcessInfo>;
    getLogs(options?: ProcessLogsOptions): Promise<ProcessLogs>;
    /** The output as it comes (what is logged first), following the process to its end across reconnects. */
    streamLogs(options?: StreamLogsOptions): AsyncGenerator<ProcessEvent>;
    /** Resolves when the process has ended, with how it ended. */
    waitForExit(timeout?: number): Promise<ProcessInfo>;
    /** Resolves with the first line of output (already logged, or to come) that contains `pattern` or matches it;
     * rejects with `PROCESS_EXITED` when the process ends first, `WAIT_TIMED_OUT` after `timeout` ms. */
    waitForLog(pattern: string | RegExp, options?: WaitForLogOptions): Promise<WaitResult>;
    /** Resolves when something listens on `port` inside the sandbox (and, with `path`, answers it with `status`). */
    waitForPort(port: number, options?: WaitForPortOptions): Promise<WaitResult>;
}
export declare function killProcess(transport: Transport, id: string, signal?: string): Promise<wire.ProcessInfo>;
export declare function processLogs(transport: Transport, id: string, options: ProcessLogsOptions): Promise<ProcessLogs>;
/** The process's live log stream (server-sent events), from `options.from`: one connection, its body as it is. */
export declare function openLogStream(transport: Transport, id: string, options?: StreamLogsOptions): Promise<ReadableStream<Uint8Array>>;
/**
 * The process's output as events, from `options.from` (an offset; 0 by default), then live, until its `exit`
 * event. A connection that breaks is opened again from the last event's offset, so no byte is lost or repeated;
 * it gives up after a few failures in a row. Leaving the loop, or aborting `options.signal`, closes the stream.
 */
export declare function followLogs(transport: Transport, id: string, options?: StreamLogsOptions): AsyncGenerator<ProcessEvent>;
