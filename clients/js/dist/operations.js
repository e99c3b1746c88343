// The methods a sandbox and its sessions share: commands, files and variables, each bound to one session (or to the
// default session when `sessionId` is undefined). `Sandbox` and `ExecutionSession` are built on this.
import { SandboxError } from './errors.js';
import { FileWatch } from './file-watch.js';
import { Process, followLogs, killProcess, openLogStream, processLogs } from './processes.js';
import { checkPageOrigin, pageHost } from './page.js';
import { PAGE_HOST_HEADER, ROUTES } from './protocol.js';
import { parseSSEStream } from './sse.js';
import { upgrade, withId, withQuery } from './transport.js';
export class Operations {
    transport;
    #sessionId;
    constructor(transport, sessionId) {
        this.transport = transport;
        this.#sessionId = sessionId;
    }
    /**
     * Runs a command in the session's shell and resolves with its result. With `stream: true`, output goes to
     * `onOutput` as it arrives and the resolved result still holds all of it. Aborting `signal` stops the command in
     * the sandbox (it ends with exit code 130) and rejects with the signal's reason.
     */
    async exec(command, options = {}) {
        if (options.stream)
            return this.#execStreamed(command, options);
        const stop = options.signal ? this.#stopper() : undefined;
        try {
            options.signal?.throwIfAborted();
            const body = this.#execBody(command, options, stop?.commandId);
            const result = withEnded(await this.transport.call('POST', ROUTES.exec, body, options.signal));
            options.onComplete?.(result);
            return result;
        }
        catch (error) {
            const thrown = options.signal?.aborted ? (await stop?.(), options.signal.reason) : error;
            options.onError?.(thrown);
            throw thrown;
        }
    }
    /**
     * Runs a command and returns its output as a stream of server-sent events (read it with `parseSSEStream`).
     * Cancelling the stream, or aborting `signal`, stops the command in the sandbox.
     */
    async execStream(command, options = {}) {
        const stop = this.#stopper();
        const { signal } = options;
        signal?.throwIfAborted();
        let response;
        try {
            response = await this.transport.open('POST', ROUTES.execStream, this.#execBody(command, options, stop.commandId), signal);
        }
        catch (error) {
            if (signal?.aborted)
                await stop();
            throw error;
        }
        if (response.body === null)
            throw new SandboxError('INVALID_RESPONSE', 'the event stream has no body', response.status);
        const reader = response.body.getReader();
        const onAbort = () => void stop();
        signal?.addEventListener('abort', onAbort, { once: true });
        return new ReadableStream({
            async pull(controller) {
                try {
                    const { value, done } = await reader.read();
                    if (done) {
                        signal?.removeEventListener('abort', onAbort);
                        controller.close();
                    }
                    else {
                        controller.enqueue(value);
                    }
                }
                catch (error) {
                    signal?.removeEventListener('abort', onAbort);
                    controller.error(signal?.aborted ? signal.reason : error);
                }
            },
            async cancel(reason) {
                signal?.removeEventListener('abort', onAbort);
                await stop();
                await reader.cancel(reason).catch(() => { });
            },
        });
    }
    async #execStreamed(command, options) {
        const output = { stdout: new OutputBuffer(options.encoding), stderr: new OutputBuffer(options.encoding) };
        try {
            // Leaving this loop early (abort, error) cancels the stream, which stops the command.
            const stream = await this.execStream(command, options);
            for await (const event of parseSSEStream(stream, options.signal)) {
                if ((event.type === 'stdout' || event.type === 'stderr') && event.data !== undefined) {
                    output[event.type].push(event.data);
                    options.onOutput?.(event.type, event.data);
                }
                else if (event.type === 'error') {
                    const { code = 'INTERNAL_ERROR', message = 'the command failed' } = event.error ?? {};
                    throw new SandboxError(code, message, 200, { ...event.error });
                }
                else if (event.type === 'complete' && event.result) {
                    const result = { ...withEnded(event.result), stdout: output.stdout.text(), stderr: output.stderr.text() };
                    options.onComplete?.(result);
                    return result;
                }
            }
            throw new SandboxError('STREAM_INTERRUPTED', 'the command\'s event stream ended before the command did', 200);
        }
        catch (error) {
            const thrown = options.signal?.aborted ? options.signal.reason : error;
            options.onError?.(thrown);
            throw thrown;
        }
    }
    /**
     * The commands in flight, running or queued behind the running one, oldest first: all of the sandbox's (called
     * on a sandbox) or this session's. Each carries the `commandId` that `cancelCommand` takes (the caller's, or the
     * one the sandbox gave it), its state, and its timeout.
     */
    async listCommands() {
        const path = withQuery(ROUTES.commands, { sessionId: this.#sessionId });
        return (await this.transport.call('GET', path)).commands;
    }
    /**
     * Stops a command in flight, running or queued, as its timeout would: it ends with exit code 130 and `ended:
     * 'cancelled'` (a queued one never starts). Resolves with whether there was such a command.
     */
    async cancelCommand(commandId) {
        const body = { commandId };
        return (await this.transport.call('POST', ROUTES.execCancel, body)).cancelled;
    }
    /**
     * A fresh `commandId` and the function that cancels that command in the sandbox, at most once. A closed
     * connection alone does not reach the sandbox through a Worker, so cancelling is an explicit call.
     */
    #stopper() {
        const commandId = crypto.randomUUID();
        let sent;
        const body = { commandId };
        const stop = () => (sent ??= this.transport.call('POST', ROUTES.execCancel, body).then(() => { }, () => { }));
        return Object.assign(stop, { commandId });
    }
    #execBody(command, options, commandId) {
        return this.#body({
            commandId,
            command,
            env: options.env && definedEntries(options.env),
            cwd: options.cwd,
            timeout: options.timeout,
            encoding: options.encoding && wireEncoding(options.encoding),
            maxOutputBytes: options.maxOutputBytes,
        });
    }
    /** Exports variables into the session for its later commands (`null` unsets one). */
    setEnvVars(envVars) {
        return this.transport.call('POST', ROUTES.env, this.#body({ envVars: definedEntries(envVars) }));
    }
    listFiles(path, options = {}) {
        return this.transport.call('POST', ROUTES.filesList, this.#body({ path, recursive: options.recursive, includeHidden: options.includeHidden }));
    }
    writeFile(path, content, options = {}) {
        if (typeof content !== 'string') {
            const query = withQuery(ROUTES.filesContent, { path, sessionId: this.#sessionId });
            return this.transport.upload('PUT', query, content, options.signal);
        }
        const body = { path, content, encoding: options.encoding && wireEncoding(options.encoding) };
        return this.transport.call('POST', ROUTES.filesWrite, this.#body(body));
    }
    /** Reads a file whole (up to `LIMITS.maxReadFileBytes`), or the range `offset`/`length` of a file of any size. */
    readFile(path, options = {}) {
        const { offset, length } = options;
        return this.transport.call('POST', ROUTES.filesRead, this.#body({ path, encoding: options.encoding && wireEncoding(options.encoding), offset, length }));
    }
    /**
     * A file's bytes as a stream, at any size and in bounded memory (read it with `streamFile`, or pipe it on). The
     * whole file, or the range `offset`/`length`. Cancelling the stream, or aborting `signal`, stops the read.
     */
    async readFileStream(path, options = {}) {
        const query = withQuery(ROUTES.filesContent, { path, offset: options.offset, length: options.length, sessionId: this.#sessionId });
        const response = await this.transport.open('GET', query, undefined, options.signal);
        return response.body ?? new Blob([]).stream();
    }
    /**
     * Watches a directory (or a file) for changes, from inotify in the sandbox. Resolves once the watch is in place;
     * iterate it with `for await`: `create`, `modify`, `delete`, `rename` (with `oldPath`), and `overflow` when
     * changes were dropped. Leaving the loop, `stop()`, or aborting `signal` ends the watch in the sandbox.
     */
    async watch(path, options = {}) {
        const { recursive, include, exclude, signal } = options;
        const watchId = crypto.randomUUID();
        const query = withQuery(ROUTES.watch, { path, recursive, include: include?.join(','), exclude: exclude?.join(','), watchId, sessionId: this.#sessionId });
        const end = () => this.transport.call('DELETE', withId(ROUTES.watchOne, watchId)).then(() => { });
        const response = await this.transport.open('GET', query, undefined, signal);
        if (!response.body)
            throw new SandboxError('INVALID_RESPONSE', 'the watch answered without a stream', response.status);
        const events = parseSSEStream(response.body, signal);
        const first = await events.next().catch(async (error) => {
            await end().catch(() => { });
            throw error;
        });
        if (first.done || first.value.type !== 'ready') {
            await events.return(undefined);
            await end().catch(() => { });
            throw new SandboxError('INVALID_RESPONSE', 'the watch ended before it was in place', 200);
        }
        return new FileWatch(events, first.value, watchId, end);
    }
    /**
     * What changed under `path` since `since` (a cursor from the previous answer), for callers that cannot hold a
     * `watch` open. The first call (no `since`) puts a watch in place; the agent keeps its changes (the latest
     * 10,000) for 10 minutes after each call. `overflow: true`: some were lost, list the path again.
     */
    checkChanges(path, options = {}) {
        const { since, recursive, include, exclude } = options;
        const body = this.#body({ path, since, recursive, include: include?.join(','), exclude: exclude?.join(',') });
        return this.transport.call('POST', ROUTES.watchChanges, body);
    }
    /**
     * Clones a repository into the sandbox as a command of this session (its variables, such as credentials, apply).
     * A repository that is not there, a branch it lacks, an existing non-empty target, credentials refused: typed
     * errors (`GIT_REPOSITORY_NOT_FOUND`, `GIT_BRANCH_NOT_FOUND`, `FILE_EXISTS`, `GIT_AUTH_FAILED`, ...).
     */
    gitCheckout(repoUrl, options = {}) {
        const { branch, targetDir, depth, timeout } = options;
        return this.transport.call('POST', ROUTES.gitCheckout, this.#body({ repoUrl, branch, targetDir, depth, timeout }));
    }
    mkdir(path, options = {}) {
        return this.transport.call('POST', ROUTES.filesMkdir, this.#body({ path, recursive: options.recursive }));
    }
    deleteFile(path) {
        return this.transport.call('POST', ROUTES.filesDelete, this.#body({ path }));
    }
    /** Renames within the filesystem; refuses to replace an existing `newPath` (`FILE_EXISTS`). */
    renameFile(oldPath, newPath) {
        return this.transport.call('POST', ROUTES.filesRename, this.#body({ oldPath, newPath }));
    }
    /** Moves like `mv`: into `destinationPath` when it is a directory. */
    moveFile(sourcePath, destinationPath) {
        return this.transport.call('POST', ROUTES.filesMove, this.#body({ sourcePath, destinationPath }));
    }
    exists(path) {
        return this.transport.call('POST', ROUTES.filesExists, this.#body({ path }));
    }
    /**
     * Starts a background process from this session's directory and exported variables (a snapshot now), without
     * waiting for the session's running command. It belongs to the sandbox: ending the session leaves it running.
     */
    async startProcess(command, options = {}) {
        const body = this.#body({
            command,
            processId: options.processId,
            env: options.env && definedEntries(options.env),
            cwd: options.cwd,
            timeout: options.timeout,
            autoCleanup: options.autoCleanup,
            limits: options.limits,
        });
        return new Process(this.transport, await this.transport.call('POST', ROUTES.processes, body));
    }
    /** Every process of the sandbox (all sessions share one process table), running or ended and kept. */
    async listProcesses() {
        const list = await this.transport.call('GET', ROUTES.processes);
        return list.processes.map((info) => new Process(this.transport, info));
    }
    /** The process, or `null` when the sandbox has none with that id. */
    async getProcess(processId) {
        try {
            return new Process(this.transport, await this.transport.call('GET', withId(ROUTES.process, processId)));
        }
        catch (error) {
            if (error instanceof SandboxError && error.code === 'PROCESS_NOT_FOUND')
                return null;
            throw error;
        }
    }
    /** Ends a process and its whole tree; resolves once they are gone. */
    killProcess(processId, signal) {
        return killProcess(this.transport, processId, signal);
    }
    /** Ends every running process of the sandbox; resolves with how many there were. */
    async killAllProcesses() {
        return (await this.transport.call('DELETE', ROUTES.processes)).killed;
    }
    getProcessLogs(processId, options = {}) {
        return processLogs(this.transport, processId, options);
    }
    /**
     * A process's output, from `options.from` (an offset) then live to its end, as the SDK gives it: a
     * `ReadableStream` of server-sent events, for `parseSSEStream<ProcessEvent>(stream)` or `stream.getReader()`.
     * One connection: if it breaks, the stream ends early (`followProcessLogs` resumes by itself). Rejects, before any
     * stream, when the process does not exist (`PROCESS_NOT_FOUND`).
     */
    async streamProcessLogs(processId, options = {}) {
        return openLogStream(this.transport, processId, options);
    }
    /** A process's output as events, then live to its end, resuming by itself after a broken connection. */
    followProcessLogs(processId, options = {}) {
        return followLogs(this.transport, processId, options);
    }
    /**
     * For a caller Worker: opens a terminal on the sandbox (or reattaches `ptyId`) for the browser's WebSocket
     * `request`, and returns the response to hand back as it is (the upgrade passes straight through). The page then
     * speaks the terminal's protocol: binary frames both ways, JSON text frames (`resize` in; `ready`, `exit` out).
     * Only the caller's own pages get one (`Origin` naming the request's own host) unless `allowedOrigins` names
     * others: any other site's page is refused with `CROSS_SITE_REFUSED` (403), and in local development so is a
     * page whose host is not this machine (DNS rebinding; the sandbox Worker checks the host passed on).
     */
    async terminal(request, options = {}) {
        if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
            throw new SandboxError('VALIDATION_FAILED', 'terminal() takes a WebSocket upgrade request', 400);
        }
        checkPageOrigin(request, options.allowedOrigins);
        const host = pageHost(request);
        return upgrade(this.transport, this.#terminalPath(options), host === undefined ? {} : { [PAGE_HOST_HEADER]: host });
    }
    /** A WebSocket of the caller Worker's own to a terminal (Workers runtime), accepted and ready to use. */
    async openTerminal(options = {}) {
        // Only the Workers runtime makes a WebSocket from a fetch (Node's fetch would refuse the upgrade: a bare
        // "fetch failed"). Elsewhere, nothing is sent and the caller is told what to do.
        if (typeof globalThis.WebSocketPair === 'undefined') {
            throw new SandboxError('UNSUPPORTED_RUNTIME', 'openTerminal() needs the Workers runtime (call it in a caller Worker); elsewhere open a WebSocket to the terminal route (ROUTES.pty) yourself, with the same Authorization header', 0);
        }
        const response = await upgrade(this.transport, this.#terminalPath(options));
        const socket = response.webSocket;
        if (!socket)
            throw new SandboxError('INVALID_RESPONSE', 'the terminal answered without a WebSocket (only the Workers runtime has one)', response.status);
        socket.accept();
        return socket;
    }
    #terminalPath(options) {
        const { cols, rows, ptyId } = options;
        return withQuery(ROUTES.pty, { cols, rows, ptyId, sessionId: this.#sessionId });
    }
    /** A request body of type `T` (a wire type) with the session's id, without the options left undefined. */
    #body(fields) {
        return definedEntries({ ...fields, sessionId: this.#sessionId });
    }
}
/** The SDK's `utf8` spelling, as the wire names it. */
function wireEncoding(encoding) {
    return encoding === 'base64' ? 'base64' : 'utf-8';
}
/** A result as this client promises it: `ended` is there even when an older agent did not send it. */
function withEnded(result) {
    return { ...result, ended: result.ended ?? (result.timedOut ? 'timedOut' : 'exited') };
}
function definedEntries(record) {
    const out = {};
    for (const [key, value] of Object.entries(record)) {
        if (value !== undefined)
            out[key] = value;
    }
    return out;
}
/** Collects a streamed command's output the way a buffered result holds it. */
class OutputBuffer {
    #base64;
    #parts = [];
    constructor(encoding) {
        this.#base64 = encoding === 'base64';
    }
    push(data) {
        this.#parts.push(data);
    }
    text() {
        if (this.#base64) {
            const chunks = this.#parts.map(fromBase64);
            const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
            let at = 0;
            for (const chunk of chunks) {
                all.set(chunk, at);
                at += chunk.length;
            }
            return toBase64(all);
        }
        // As in a buffered text result: one trailing newline removed.
        return this.#parts.join('').replace(/\n$/, '');
    }
}
function toBase64(bytes) {
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
}
function fromBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++)
        bytes[i] = binary.charCodeAt(i);
    return bytes;
}
