import { ExecutionSession } from './session.js';
import { Operations } from './operations.js';
import { Transport, type SandboxBinding } from './transport.js';
import type { Backup, BackupOptions, DestroyResult, ExposedPort, NetworkPolicy, NetworkState, PtyInfo, SecretInfo, SecretOptions, RestoreBackupOptions, RestoreBackupResult, SandboxStatus, SessionDeleteResult, SessionList, SessionOptions, SleepSettings, TerminalKillResult } from './types.js';
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
/**
 * The sandbox named `id` (1-63 characters, DNS-label rules), reached through `binding`: a service binding to the
 * sandbox Worker (`env.SANDBOX`) or `{ url, token? }`. Nothing is sent until the first call; the sandbox and its
 * default session come into being then.
 */
export declare function getSandbox(binding: SandboxBinding, id: string, options?: SandboxOptions): Sandbox;
/** A sandbox. Its command, file and variable methods run in its default session. */
export declare class Sandbox extends Operations {
    readonly id: string;
    /** @internal Made by `getSandbox`. */
    constructor(transport: Transport, id: string);
    /** Creates a session: an isolated shell with its own variables, directory and history. */
    createSession(options?: SessionOptions): Promise<ExecutionSession>;
    /** An existing session; rejects with `SessionNotFoundError` when there is none with that id. */
    getSession(sessionId: string): Promise<ExecutionSession>;
    listSessions(): Promise<SessionList>;
    /** Ends the session's shell and every process it started; its later calls fail with `SESSION_NOT_FOUND`. */
    deleteSession(sessionId: string): Promise<SessionDeleteResult>;
    /**
     * Serves `port` of the sandbox to browsers at a preview URL (`{port}-{id}-{token}.<preview host>`, the token
     * random). Exposing it again keeps its URL; it lasts until `unexposePort` or `destroy`.
     */
    exposePort(port: number, options?: {
        name?: string;
        hostname?: string;
    }): Promise<ExposedPort>;
    /** Stops serving the port: its preview URL answers 404 from then on. */
    unexposePort(port: number): Promise<wire.UnexposePortResult>;
    getExposedPorts(): Promise<ExposedPort[]>;
    /**
     * Saves a directory of the sandbox (the workspace by default) to the backup store (the sandbox Worker's R2
     * bucket): its files, modes, symlinks, empty directories and mtimes. Content-addressed: what an earlier backup
     * of this sandbox stored is not sent again. Rejects with `BACKUPS_NOT_CONFIGURED` when no bucket is bound.
     */
    createBackup(options?: BackupOptions): Promise<Backup>;
    /**
     * Puts a backup's tree in place of a directory's contents (the directory it was made from by default): all at
     * once, once every part has arrived and been checked; on a failure the directory is as it was.
     */
    restoreBackup(backup: Backup | string, options?: RestoreBackupOptions): Promise<RestoreBackupResult>;
    /**
     * Makes sandbox `newId`, whose workspace starts as this one's: as it is now (it is saved first), or as the backup
     * named. The new sandbox gets it on its first call; from then on the two go their own ways. Rejects with
     * `SANDBOX_ALREADY_EXISTS` when `newId` is in use.
     */
    fork(newId: string, options?: {
        backup?: Backup | string;
    }): Promise<Sandbox>;
    /** The sandbox's backups that have not expired, newest first. */
    listBackups(): Promise<Backup[]>;
    /** Forgets a backup; restoring it then rejects with `BACKUP_NOT_FOUND`. */
    deleteBackup(id: string): Promise<{
        success: boolean;
        id: string;
    }>;
    /** The sandbox's terminals (opened with `terminal` or `openTerminal`), with how many viewers each has now. */
    listTerminals(): Promise<PtyInfo[]>;
    /**
     * Ends a terminal and everything started in it; its viewers get `exit`. Rejects with `PTY_NOT_FOUND` when there
     * is none.
     */
    killTerminal(ptyId: string): Promise<TerminalKillResult>;
    /**
     * `true`: the sandbox is never stopped for being idle, until `setKeepAlive(false)` or `destroy()` (its saves
     * still run). The sandbox keeps the setting, for every caller, across its restarts.
     */
    setKeepAlive(keepAlive: boolean): Promise<SleepSettings>;
    /**
     * How long the sandbox may go without a call before it sleeps (its workspace saved first, when the sandbox Worker
     * has a backup bucket): seconds, or a string such as `'90s'`, `'10m'`, `'1h'` (a week at most); `'default'` for
     * the sandbox Worker's `SANDBOX_SLEEP_AFTER` again. The sandbox keeps it, for every caller.
     */
    setSleepAfter(duration: string | number): Promise<SleepSettings>;
    /** The sleep settings in effect (`setKeepAlive`, `setSleepAfter`, or the sandbox Worker's default). */
    getSleepSettings(): Promise<SleepSettings>;
    /**
     * What the sandbox's code may reach: `allow` and `deny` take host names (`api.github.com`), their subdomains
     * (`*.github.com`), addresses and networks (`10.0.0.0/8`), each optionally with a port (`localhost:8080`).
     * `internet` (left out: `true` unless `allow` names hosts) opens every host no rule names. The policy replaces the
     * one in effect, for connections opened after it, and the sandbox keeps it across restarts. Where the sandbox's
     * network cannot be held to a policy, one that restricts anything is refused (`EGRESS_UNAVAILABLE`).
     */
    setNetworkPolicy(policy: NetworkPolicy): Promise<NetworkState>;
    /** The network policy in effect, whether it is enforced, and what it allowed and refused (the latest refusals). */
    getNetworkPolicy(): Promise<NetworkState>;
    /** The SDK's: only these hosts are reachable (the deny list in effect is kept). */
    setAllowedHosts(hosts: string[]): Promise<NetworkState>;
    /** The SDK's: these hosts are never reachable (the rest of the policy in effect is kept). */
    setDeniedHosts(hosts: string[]): Promise<NetworkState>;
    /**
     * A secret the sandbox's code uses without seeing it: the answer gives its `placeholder`, which the code puts
     * where the secret would go (a variable, a header); the sandbox's egress proxy sends `value` instead, in `header`
     * (`Authorization` by default) written as `format` (`Bearer {}` by default), on requests to `hosts` only. A
     * request to any other host carries the placeholder. Setting a name again replaces its secret and keeps its
     * placeholder. Enforced where the network policy is; refused (`EGRESS_UNAVAILABLE`) elsewhere.
     */
    setSecret(name: string, value: string, options: SecretOptions): Promise<SecretInfo>;
    /** The sandbox's secrets: names, placeholders, hosts, headers; never their values. */
    listSecrets(): Promise<SecretInfo[]>;
    /** The secret is sent no more (its placeholder goes out as it is). */
    deleteSecret(name: string): Promise<SecretInfo[]>;
    /** Whether the sandbox's container runs, in which mode, what it is doing, and its last stop, save and restore. */
    status(): Promise<SandboxStatus>;
    /** Ends every session and process, stops the container and forgets the sandbox's state. */
    destroy(): Promise<DestroyResult>;
}
