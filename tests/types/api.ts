// Type-level test of the JavaScript client as a caller sees it: its published `.d.ts` (the package `sandbox-rs`)
// must accept the SDK's calls with their options and give typed results, and must refuse wrong ones
// (`@ts-expect-error` fails the compile when the line is accepted). Compiled with `tsc --noEmit` by `npm test`.
import {
  getSandbox,
  parseSSEStream,
  ContainerUnavailableError,
  SandboxError,
  type CommandEnd,
  type CommandInfo,
  type CommandState,
  type SleepSettings,
  type ErrorCode,
  type ExecEvent,
  type ExecResult,
  type ExecutionSession,
  type FileInfo,
  type ListFilesResult,
  type ReadFileResult,
  type Sandbox,
  type SessionOptions,
  type ProcessEvent,
  type PtyInfo,
  type TerminalOptions,
} from 'sandbox-rs';

declare const env: { SANDBOX: { fetch(request: Request): Promise<Response> } };

export async function docsExample(): Promise<void> {
  const sandbox: Sandbox = getSandbox(env.SANDBOX, 'my-sandbox');
  const options: SessionOptions = { name: 'data-analysis', env: { API_KEY: 'secret-key', DEBUG: 'true' }, cwd: '/workspace/analysis' };
  const session: ExecutionSession = await sandbox.createSession(options);
  const result: ExecResult = await session.exec('echo $API_KEY');
  const stdout: string = result.stdout;
  const files: ListFilesResult = await session.listFiles('.', { recursive: true, includeHidden: false });
  const first: FileInfo | undefined = files.files[0];
  const kind: 'file' | 'directory' | 'symlink' | 'other' | undefined = first?.type;
  await sandbox.deleteSession(session.id);
  void stdout, kind;
}

export async function everyMethod(signal: AbortSignal): Promise<void> {
  const sandbox = getSandbox({ url: 'http://127.0.0.1:8787', token: 't' }, 'box', { normalizeId: true });
  await sandbox.exec('ls', { timeout: 1000, env: { A: 'x', B: undefined, C: null }, cwd: '/workspace', encoding: 'base64', maxOutputBytes: 1024, signal });
  await sandbox.exec('ls', {
    stream: true,
    onOutput: (stream: 'stdout' | 'stderr', data: string) => void [stream, data],
    onComplete: (r: ExecResult) => void r.exitCode,
    onError: (e: Error) => void e.message,
  });
  for await (const event of parseSSEStream<ExecEvent>(await sandbox.execStream('ls', { signal }))) {
    const type: 'start' | 'stdout' | 'stderr' | 'complete' | 'error' = event.type;
    void [type, event.data, event.exitCode, event.result?.stdout, event.error?.code];
  }
  // The SDK's log stream: a ReadableStream of server-sent events, for parseSSEStream or a reader of its own.
  const logs: ReadableStream<Uint8Array> = await sandbox.streamProcessLogs('web', { from: 0 });
  const reader: ReadableStreamDefaultReader<Uint8Array> = logs.getReader();
  void reader;
  for await (const event of parseSSEStream<ProcessEvent>(await sandbox.streamProcessLogs('web'))) {
    void [event.type, event.offset];
  }
  for await (const event of sandbox.followProcessLogs('web', { from: 0 })) void event.type;
  // @ts-expect-error: the SDK's stream is a promise of a ReadableStream, not something to loop over
  for await (const event of sandbox.streamProcessLogs('web')) void event;
  const session = await sandbox.getSession('s');
  await session.setEnvVars({ A: '1', B: null });
  await sandbox.setEnvVars({ A: '1' });
  await sandbox.writeFile('/f', 'text', { encoding: 'utf-8' });
  await sandbox.writeFile('/f', new Uint8Array([1]));
  const read: ReadFileResult = await sandbox.readFile('/f', { encoding: 'base64' });
  const binary: boolean = read.isBinary;
  const made: boolean = (await sandbox.mkdir('/d', { recursive: true })).recursive;
  await sandbox.deleteFile('/f');
  const renamed: string = (await sandbox.renameFile('/a', '/b')).newPath;
  await sandbox.moveFile('/b', '/d');
  const exists: boolean = (await sandbox.exists('/d')).exists;
  const sessions: number = (await sandbox.listSessions()).count;
  const state: 'idle' | 'busy' = (await session.info()).status;
  const total: number = (await session.history()).total;
  const running: boolean = (await sandbox.status()).running;
  const inFlight: CommandInfo[] = (await sandbox.status()).commands ?? [];
  const queued: CommandState[] = (await session.listCommands()).map((c) => c.state);
  const cancelled: boolean = await sandbox.cancelCommand(inFlight[0]?.commandId ?? 'cmd-x');
  const id: string | undefined = (await sandbox.exec('true')).commandId;
  // Each sandbox its own sleep: the SDK's setters, a duration as seconds or text.
  const kept: boolean = (await sandbox.setKeepAlive(true)).keepAlive;
  const idleMs: number = (await sandbox.setSleepAfter('10m')).sleepAfterMs;
  await sandbox.setSleepAfter(90);
  // @ts-expect-error setKeepAlive takes a boolean
  await sandbox.setKeepAlive('yes');
  const settings: SleepSettings = await sandbox.getSleepSettings();
  await sandbox.destroy();
  void [binary, made, renamed, exists, sessions, state, total, running, queued, cancelled, id, kept, idleMs, settings];
}

export async function terminals(request: Request): Promise<Response> {
  const sandbox = getSandbox(env.SANDBOX, 'box');
  const options: TerminalOptions = { cols: 120, rows: 40, ptyId: 'pty-1' };
  const socket: WebSocket = await sandbox.openTerminal({ cols: 80 });
  socket.send(new TextEncoder().encode('ls\r'));
  const listed: PtyInfo[] = await sandbox.listTerminals();
  const viewers: number | undefined = listed[0]?.attached;
  const ended: string = (await sandbox.killTerminal('pty-1')).ptyId;
  const session = await sandbox.getSession('s');
  void [viewers, ended, await session.openTerminal()];
  // @ts-expect-error sizes are numbers
  await sandbox.openTerminal({ cols: '80' });
  // @ts-expect-error misspelt option
  await sandbox.terminal(request, { ptyid: 'pty-1' });
  return sandbox.terminal(request, options);
}

export function errors(e: unknown): void {
  if (e instanceof ContainerUnavailableError) {
    const after: number | undefined = e.retryAfter;
    void after;
  }
  if (e instanceof SandboxError) {
    const code: ErrorCode | (string & {}) = e.code;
    const status: number = e.status;
    void [code, status];
  }
  // The codes and ends are the protocol crate's (clients/js/src/protocol.ts, generated), plus the client's own.
  const known: ErrorCode[] = ['SESSION_NOT_FOUND', 'AGENT_RESTARTED', 'NETWORK_ERROR'];
  const ends: CommandEnd[] = ['exited', 'timedOut', 'cancelled'];
  // @ts-expect-error not a code of the protocol
  const unknown: ErrorCode = 'SESSION_MISSING';
  // @ts-expect-error not an end of the protocol
  const never: CommandEnd = 'killed';
  void [known, ends, unknown, never];
}

export async function refused(session: ExecutionSession): Promise<void> {
  // @ts-expect-error timeout is milliseconds, a number
  await session.exec('ls', { timeout: '5s' });
  // @ts-expect-error misspelt option
  await session.exec('ls', { timout: 5 });
  // @ts-expect-error env values are strings
  await session.setEnvVars({ A: 1 });
  // @ts-expect-error there is no such encoding
  await session.readFile('/f', { encoding: 'latin1' });
  // @ts-expect-error a binding needs fetch, or a url
  getSandbox({}, 'box');
  // The SDK's options: keepAlive only as false (the default), sleepAfter refused (their setters instead), hostname taken.
  getSandbox(env.SANDBOX, 'box', { keepAlive: false });
  // @ts-expect-error keepAlive: true is refused (sandbox.setKeepAlive(true) instead)
  getSandbox(env.SANDBOX, 'box', { keepAlive: true });
  // @ts-expect-error sleepAfter is refused (sandbox.setSleepAfter(duration) instead)
  getSandbox(env.SANDBOX, 'box', { sleepAfter: '30m' });
  await getSandbox(env.SANDBOX, 'box').exposePort(8080, { hostname: 'example.com' });
}
