import { FileWatch } from './file-watch.js';
import { Process } from './processes.js';
import { type Transport } from './transport.js';
import type { CheckChangesOptions, CheckChangesResult, CommandInfo, EnvVars, ExecOptions, ExecResult, ExistsResult, FileOpResult, GitCheckoutOptions, GitCheckoutResult, ListFilesOptions, ListFilesResult, MkdirOptions, MkdirResult, ReadFileOptions, ReadFileStreamOptions, ProcessEvent, ProcessInfo, ProcessLogs, ProcessLogsOptions, ProcessOptions, ReadFileResult, RenameFileResult, StreamLogsOptions, TerminalOptions, SetEnvVarsResult, UploadResult, WatchOptions, WriteFileOptions } from './types.js';
export declare class Operations {
    #private;
    protected readonly transport: Transport;
    protected constructor(transport: Transport, sessionId: string | undefined);
    /**
     * Runs a command in the session's shell and resolves with its result. With `stream: true`, output goes to
     * `onOutput` as it arrives and the resolved result still holds all of it. Aborting `signal` stops the command in
     * the sandbox (it ends with exit code 130) and rejects with the signal's reason.
     */
    exec(command: string, options?: ExecOptions): Promise<ExecResult>;
    /**
     * Runs a command and returns its output as a stream of server-sent events (read it with `parseSSEStream`).
     * Cancelling the stream, or aborting `signal`, stops the command in the sandbox.
     */
    execStream(command: string, options?: Omit<ExecOptions, 'stream' | 'onOutput' | 'onComplete' | 'onError'>): Promise<ReadableStream<Uint8Array>>;
    /**
     * The commands in flight, running or queued behind the running one, oldest first: all of the sandbox's (called
     * on a sandbox) or this session's. Each carries the `commandId` that `cancelCommand` takes (the caller's, or the
     * one the sandbox gave it), its state, and its timeout.
     */
    listCommands(): Promise<CommandInfo[]>;
    /**
     * Stops a command in flight, running or queued, as its timeout would: it ends with exit code 130 and `ended:
     * 'cancelled'` (a queued one never starts). Resolves with whether there was such a command.
     */
    cancelCommand(commandId: string): Promise<boolean>;
    /** Exports variables into the session for its later commands (`null` unsets one). */
    setEnvVars(envVars: EnvVars): Promise<SetEnvVarsResult>;
    listFiles(path: string, options?: ListFilesOptions): Promise<ListFilesResult>;
    /**
     * Writes a file, making its parent directories; the file is replaced whole once all of `content` has arrived.
     * A string is taken in `encoding`. Bytes and a `ReadableStream` travel raw, at any size (no JSON limit), and the
     * result says how many bytes were written; a stream cut off half way (or `signal` aborted) leaves the old file.
     */
    writeFile(path: string, content: string, options?: WriteFileOptions): Promise<FileOpResult>;
    writeFile(path: string, content: Uint8Array | ReadableStream<Uint8Array>, options?: WriteFileOptions & {
        signal?: AbortSignal;
    }): Promise<UploadResult>;
    /** Reads a file whole (up to `LIMITS.maxReadFileBytes`), or the range `offset`/`length` of a file of any size. */
    readFile(path: string, options?: ReadFileOptions): Promise<ReadFileResult>;
    /**
     * A file's bytes as a stream, at any size and in bounded memory (read it with `streamFile`, or pipe it on). The
     * whole file, or the range `offset`/`length`. Cancelling the stream, or aborting `signal`, stops the read.
     */
    readFileStream(path: string, options?: ReadFileStreamOptions): Promise<ReadableStream<Uint8Array>>;
    /**
     * Watches a directory (or a file) for changes, from inotify in the sandbox. Resolves once the watch is in place;
     * iterate it with `for await`: `create`, `modify`, `delete`, `rename` (with `oldPath`), and `overflow` when
     * changes were dropped. Leaving the loop, `stop()`, or aborting `signal` ends the watch in the sandbox.
     */
    watch(path: string, options?: WatchOptions): Promise<FileWatch>;
    /**
     * What changed under `path` since `since` (a cursor from the previous answer), for callers that cannot hold a
     * `watch` open. The first call (no `since`) puts a watch in place; the agent keeps its changes (the latest
     * 10,000) for 10 minutes after each call. `overflow: true`: some were lost, list the path again.
     */
    checkChanges(path: string, options?: CheckChangesOptions): Promise<CheckChangesResult>;
    /**
     * Clones a repository into the sandbox as a command of this session (its variables, such as credentials, apply).
     * A repository that is not there, a branch it lacks, an existing non-empty target, credentials refused: typed
     * errors (`GIT_REPOSITORY_NOT_FOUND`, `GIT_BRANCH_NOT_FOUND`, `FILE_EXISTS`, `GIT_AUTH_FAILED`, ...).
     */
    gitCheckout(repoUrl: string, options?: GitCheckoutOptions): Promise<GitCheckoutResult>;
    mkdir(path: string, options?: MkdirOptions): Promise<MkdirResult>;
    deleteFile(path: string): Promise<FileOpResult>;
    /** Renames within the filesystem; refuses to replace an existing `newPath` (`FILE_EXISTS`). */
    renameFile(oldPath: string, newPath: string): Promise<RenameFileResult>;
    /** Moves like `mv`: into `destinationPath` when it is a directory. */
    moveFile(sourcePath: string, destinationPath: string): Promise<RenameFileResult>;
    exists(path: string): Promise<ExistsResult>;
    /**
     * Starts a background process from this session's directory and exported variables (a snapshot now), without
     * waiting for the session's running command. It belongs to the sandbox: ending the session leaves it running.
     */
    startProcess(command: string, options?: ProcessOptions): Promise<Process>;
    /** Every process of the sandbox (all sessions share one process table), running or ended and kept. */
    listProcesses(): Promise<Process[]>;
    /** The process, or `null` when the sandbox has none with that id. */
    getProcess(processId: string): Promise<Process | null>;
    /** Ends a process and its whole tree; resolves once they are gone. */
    killProcess(processId: string, signal?: string): Promise<ProcessInfo>;
    /** Ends every running process of the sandbox; resolves with how many there were. */
    killAllProcesses(): Promise<number>;
    getProcessLogs(processId: string, options?: ProcessLogsOptions): Promise<ProcessLogs>;
    /**
     * A process's output, from `options.from` (an offset) then live to its end, as the SDK gives it: a
     * `ReadableStream` of server-sent events, for `parseSSEStream<ProcessEvent>(stream)` or `stream.getReader()`.
     * One connection: if it breaks, the stream ends early (`followProcessLogs` resumes by itself). Rejects, before any
     * stream, when the process does not exist (`PROCESS_NOT_FOUND`).
     */
    streamProcessLogs(processId: string, options?: StreamLogsOptions): Promise<ReadableStream<Uint8Array>>;
    /** A process's output as events, then live to its end, resuming by itself after a broken connection. */
    followProcessLogs(processId: string, options?: StreamLogsOptions): AsyncGenerator<ProcessEvent>;
    /**
     * For a caller Worker: opens a terminal on the sandbox (or reattaches `ptyId`) for the browser's WebSocket
     * `request`, and returns the response to hand back as it is (the upgrade passes straight through). The page then
     * speaks the terminal's protocol: binary frames both ways, JSON text frames (`resize` in; `ready`, `exit` out).
     * Only the caller's own pages get one (`Origin` naming the request's own host) unless `allowedOrigins` names
     * others: any other site's page is refused with `CROSS_SITE_REFUSED` (403), and in local development so is a
     * page whose host is not this machine (DNS rebinding; the sandbox Worker checks the host passed on).
     */
    terminal(request: Request, options?: TerminalOptions): Promise<Response>;
    /** A WebSocket of the caller Worker's own to a terminal (Workers runtime), accepted and ready to use. */
    openTerminal(options?: TerminalOptions): Promise<WebSocket>;
}
