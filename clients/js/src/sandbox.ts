// `getSandbox` and `Sandbox`: one sandbox by id, its default session's methods, its sessions, and its end.

import { ExecutionSession } from './session.js';
import { ValidationError } from './errors.js';
import { Operations } from './operations.js';
import { ROUTES } from './protocol.js';
import { Transport, withId, type SandboxBinding } from './transport.js';
import type {
  Backup,
  BackupOptions,
  DestroyResult,
  ExposedPort,
  NetworkPolicy,
  NetworkState,
  PtyInfo,
  SecretInfo,
  SecretList,
  SecretOptions,
  RestoreBackupOptions,
  RestoreBackupResult,
  SandboxStatus,
  SessionDeleteResult,
  SessionList,
  SessionOptions,
  SleepSettings,
  TerminalKillResult,
} from './types.js';
import type * as wire from './wire.js';

export interface SandboxOptions {
  /** Bearer token, when the sandbox Worker has `SANDBOX_API_TOKEN` set (overrides a `{ url, token }` binding's). */
  token?: string;
  /** Lower-case the id first, as the SDK's `normalizeId` does. */
  normalizeId?: boolean;
  /**
   * The SDK's; only `false` (the default) is taken here: `getSandbox` sends nothing. Call `setKeepAlive(true)` once
   * instead (the sandbox keeps it).
   */
  keepAlive?: false;
  /** The SDK's; refused here: call `setSleepAfter(duration)` once instead (the sandbox keeps it). */
  sleepAfter?: never;
}

/** The SDK options `getSandbox` refuses, with why. */
const REFUSED: Record<string, (value: unknown) => string | undefined> = {
  keepAlive: (v) => (v ? 'keepAlive: true is not taken by getSandbox (it sends nothing): call sandbox.setKeepAlive(true) once; the sandbox keeps it' : undefined),
  sleepAfter: () => 'sleepAfter is not taken by getSandbox (it sends nothing): call sandbox.setSleepAfter(duration) once; the sandbox keeps it (the sandbox Worker\'s SANDBOX_SLEEP_AFTER is the default)',
  baseUrl: () => 'baseUrl is not supported: preview URLs are under the sandbox Worker\'s SANDBOX_PREVIEW_HOST',
  containerTimeouts: () => 'containerTimeouts is not supported: the sandbox Worker waits for its container itself',
};
const TAKEN = new Set(['token', 'normalizeId']);

function checkOptions(options: SandboxOptions): void {
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || TAKEN.has(name)) continue;
    const why = REFUSED[name] ? REFUSED[name](value) : `getSandbox: unknown option ${JSON.stringify(name)} (it takes token, normalizeId)`;
    if (why !== undefined) throw new ValidationError('VALIDATION_FAILED', why, 400);
  }
}

/**
 * The sandbox named `id` (1-63 characters, DNS-label rules), reached through `binding`: a service binding to the
 * sandbox Worker (`env.SANDBOX`) or `{ url, token? }`. Nothing is sent until the first call; the sandbox and its
 * default session come into being then.
 */
export function getSandbox(binding: SandboxBinding, id: string, options: SandboxOptions = {}): Sandbox {
  checkOptions(options);
  const sandboxId = options.normalizeId ? id.toLowerCase() : id;
  return new Sandbox(new Transport(binding, sandboxId, options.token), sandboxId);
}

/** A sandbox. Its command, file and variable methods run in its default session. */
export class Sandbox extends Operations {
  readonly id: string;

  /** @internal Made by `getSandbox`. */
  constructor(transport: Transport, id: string) {
    super(transport, undefined);
    this.id = id;
  }

  /** Creates a session: an isolated shell with its own variables, directory and history. */
  async createSession(options: SessionOptions = {}): Promise<ExecutionSession> {
    const info = await this.transport.call<wire.SessionInfo>('POST', ROUTES.sessions, options);
    return new ExecutionSession(this.transport, info.id);
  }

  /** An existing session; rejects with `SessionNotFoundError` when there is none with that id. */
  async getSession(sessionId: string): Promise<ExecutionSession> {
    const info = await this.transport.call<wire.SessionInfo>('GET', withId(ROUTES.session, sessionId));
    return new ExecutionSession(this.transport, info.id);
  }

  listSessions(): Promise<SessionList> {
    return this.transport.call('GET', ROUTES.sessions);
  }

  /** Ends the session's shell and every process it started; its later calls fail with `SESSION_NOT_FOUND`. */
  async deleteSession(sessionId: string): Promise<SessionDeleteResult> {
    const result = await this.transport.call<wire.DeleteResult>('DELETE', withId(ROUTES.session, sessionId));
    return { success: result.success, sessionId: result.id, timestamp: result.timestamp };
  }

  /**
   * Serves `port` of the sandbox to browsers at a preview URL (`{port}-{id}-{token}.<preview host>`, the token
   * random). Exposing it again keeps its URL; it lasts until `unexposePort` or `destroy`.
   */
  exposePort(port: number, options: { name?: string; hostname?: string } = {}): Promise<ExposedPort> {
    const body: wire.ExposePortRequest = { port };
    if (options.name !== undefined) body.name = options.name;
    // The SDK's: the domain the caller expects the URL under; refused unless it is the one previews are served under.
    if (options.hostname !== undefined) body.hostname = options.hostname;
    return this.transport.call('POST', ROUTES.ports, body);
  }

  /** Stops serving the port: its preview URL answers 404 from then on. */
  unexposePort(port: number): Promise<wire.UnexposePortResult> {
    return this.transport.call('DELETE', withId(ROUTES.port, String(port)));
  }

  async getExposedPorts(): Promise<ExposedPort[]> {
    return (await this.transport.call<wire.ExposedPortList>('GET', ROUTES.ports)).ports;
  }

  /**
   * Saves a directory of the sandbox (the workspace by default) to the backup store (the sandbox Worker's R2
   * bucket): its files, modes, symlinks, empty directories and mtimes. Content-addressed: what an earlier backup
   * of this sandbox stored is not sent again. Rejects with `BACKUPS_NOT_CONFIGURED` when no bucket is bound.
   */
  createBackup(options: BackupOptions = {}): Promise<Backup> {
    const body: wire.CreateBackupRequest = {};
    if (options.dir !== undefined) body.dir = options.dir;
    if (options.name !== undefined) body.name = options.name;
    if (options.ttl !== undefined) body.ttl = options.ttl;
    return this.transport.call('POST', ROUTES.backups, body);
  }

  /**
   * Puts a backup's tree in place of a directory's contents (the directory it was made from by default): all at
   * once, once every part has arrived and been checked; on a failure the directory is as it was.
   */
  restoreBackup(backup: Backup | string, options: RestoreBackupOptions = {}): Promise<RestoreBackupResult> {
    const id = typeof backup === 'string' ? backup : backup.id;
    const body: wire.RestoreBackupRequest = {};
    if (options.dir !== undefined) body.dir = options.dir;
    return this.transport.call('POST', withId(ROUTES.backupRestore, id), body);
  }

  /**
   * Makes sandbox `newId`, whose workspace starts as this one's: as it is now (it is saved first), or as the backup
   * named. The new sandbox gets it on its first call; from then on the two go their own ways. Rejects with
   * `SANDBOX_ALREADY_EXISTS` when `newId` is in use.
   */
  async fork(newId: string, options: { backup?: Backup | string } = {}): Promise<Sandbox> {
    const body: wire.ForkRequest = { newId };
    if (options.backup !== undefined) body.backup = typeof options.backup === 'string' ? options.backup : options.backup.id;
    const forked = await this.transport.call<wire.ForkResult>('POST', ROUTES.fork, body);
    return new Sandbox(this.transport.forSandbox(forked.id), forked.id);
  }

  /** The sandbox's backups that have not expired, newest first. */
  async listBackups(): Promise<Backup[]> {
    return (await this.transport.call<wire.BackupList>('GET', ROUTES.backups)).backups;
  }

  /** Forgets a backup; restoring it then rejects with `BACKUP_NOT_FOUND`. */
  async deleteBackup(id: string): Promise<{ success: boolean; id: string }> {
    const result = await this.transport.call<wire.DeleteResult>('DELETE', withId(ROUTES.backup, id));
    return { success: result.success, id: result.id };
  }

  /** The sandbox's terminals (opened with `terminal` or `openTerminal`), with how many viewers each has now. */
  async listTerminals(): Promise<PtyInfo[]> {
    const list = await this.transport.call<wire.PtyList>('GET', ROUTES.ptys);
    return list.ptys;
  }

  /**
   * Ends a terminal and everything started in it; its viewers get `exit`. Rejects with `PTY_NOT_FOUND` when there
   * is none.
   */
  async killTerminal(ptyId: string): Promise<TerminalKillResult> {
    const result = await this.transport.call<wire.DeleteResult>('DELETE', withId(ROUTES.ptyOne, ptyId));
    return { success: result.success, ptyId: result.id, timestamp: result.timestamp };
  }

  /**
   * `true`: the sandbox is never stopped for being idle, until `setKeepAlive(false)` or `destroy()` (its saves
   * still run). The sandbox keeps the setting, for every caller, across its restarts.
   */
  setKeepAlive(keepAlive: boolean): Promise<SleepSettings> {
    if (typeof keepAlive !== 'boolean') return Promise.reject(new ValidationError('VALIDATION_FAILED', 'setKeepAlive takes true or false', 400));
    const body: wire.SleepRequest = { keepAlive };
    return this.transport.call('PUT', ROUTES.sleep, body);
  }

  /**
   * How long the sandbox may go without a call before it sleeps (its workspace saved first, when the sandbox Worker
   * has a backup bucket): seconds, or a string such as `'90s'`, `'10m'`, `'1h'` (a week at most); `'default'` for
   * the sandbox Worker's `SANDBOX_SLEEP_AFTER` again. The sandbox keeps it, for every caller.
   */
  setSleepAfter(duration: string | number): Promise<SleepSettings> {
    const sleepAfter = typeof duration === 'number' ? `${Math.round(duration * 1000)}ms` : duration;
    const body: wire.SleepRequest = { sleepAfter };
    return this.transport.call('PUT', ROUTES.sleep, body);
  }

  /** The sleep settings in effect (`setKeepAlive`, `setSleepAfter`, or the sandbox Worker's default). */
  getSleepSettings(): Promise<SleepSettings> {
    return this.transport.call('GET', ROUTES.sleep);
  }

  /**
   * What the sandbox's code may reach: `allow` and `deny` take host names (`api.github.com`), their subdomains
   * (`*.github.com`), addresses and networks (`10.0.0.0/8`), each optionally with a port (`localhost:8080`).
   * `internet` (left out: `true` unless `allow` names hosts) opens every host no rule names. The policy replaces the
   * one in effect, for connections opened after it, and the sandbox keeps it across restarts. Where the sandbox's
   * network cannot be held to a policy, one that restricts anything is refused (`EGRESS_UNAVAILABLE`).
   */
  setNetworkPolicy(policy: NetworkPolicy): Promise<NetworkState> {
    if (policy === null || typeof policy !== 'object') {
      return Promise.reject(new ValidationError('VALIDATION_FAILED', 'setNetworkPolicy takes { internet?, allow?, deny? }', 400));
    }
    return this.transport.call('PUT', ROUTES.networkPolicy, policy);
  }

  /** The network policy in effect, whether it is enforced, and what it allowed and refused (the latest refusals). */
  getNetworkPolicy(): Promise<NetworkState> {
    return this.transport.call('GET', ROUTES.networkPolicy);
  }

  /** The SDK's: only these hosts are reachable (the deny list in effect is kept). */
  async setAllowedHosts(hosts: string[]): Promise<NetworkState> {
    const { policy } = await this.getNetworkPolicy();
    return this.setNetworkPolicy({ internet: false, allow: hosts, deny: policy.deny ?? [] });
  }

  /** The SDK's: these hosts are never reachable (the rest of the policy in effect is kept). */
  async setDeniedHosts(hosts: string[]): Promise<NetworkState> {
    const { policy } = await this.getNetworkPolicy();
    return this.setNetworkPolicy({ ...policy, deny: hosts });
  }

  /**
   * A secret the sandbox's code uses without seeing it: the answer gives its `placeholder`, which the code puts
   * where the secret would go (a variable, a header); the sandbox's egress proxy sends `value` instead, in `header`
   * (`Authorization` by default) written as `format` (`Bearer {}` by default), on requests to `hosts` only. A
   * request to any other host carries the placeholder. Setting a name again replaces its secret and keeps its
   * placeholder. Enforced where the network policy is; refused (`EGRESS_UNAVAILABLE`) elsewhere.
   */
  async setSecret(name: string, value: string, options: SecretOptions): Promise<SecretInfo> {
    if (!options || !Array.isArray(options.hosts)) {
      throw new ValidationError('VALIDATION_FAILED', 'setSecret(name, value, { hosts: [...] }): name the hosts it is sent to', 400);
    }
    const body: wire.SetSecretRequest = { name, value, hosts: options.hosts };
    if (options.header !== undefined) body.header = options.header;
    if (options.format !== undefined) body.format = options.format;
    const list: SecretList = await this.transport.call('PUT', ROUTES.secrets, body);
    const made = list.secrets.find((s) => s.name === name);
    if (!made) throw new ValidationError('INTERNAL_ERROR', `the secret ${name} is not in the sandbox's list`, 500);
    return made;
  }

  /** The sandbox's secrets: names, placeholders, hosts, headers; never their values. */
  async listSecrets(): Promise<SecretInfo[]> {
    const list: SecretList = await this.transport.call('GET', ROUTES.secrets);
    return list.secrets;
  }

  /** The secret is sent no more (its placeholder goes out as it is). */
  async deleteSecret(name: string): Promise<SecretInfo[]> {
    const list: SecretList = await this.transport.call('DELETE', withId(ROUTES.secret, name));
    return list.secrets;
  }

  /** Whether the sandbox's container runs, in which mode, what it is doing, and its last stop, save and restore. */
  status(): Promise<SandboxStatus> {
    return this.transport.call('GET', ROUTES.sandbox);
  }

  /** Ends every session and process, stops the container and forgets the sandbox's state. */
  destroy(): Promise<DestroyResult> {
    return this.transport.call('DELETE', ROUTES.sandbox);
  }
}
