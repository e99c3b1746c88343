import { Operations } from './operations.js';
import { type Transport } from './transport.js';
import type { SessionHistory, SessionInfo } from './types.js';
export declare class ExecutionSession extends Operations {
    /** The session's id: pass it to `getSession` or `deleteSession`. */
    readonly id: string;
    /** @internal Made by `Sandbox.createSession` and `Sandbox.getSession`. */
    constructor(transport: Transport, id: string);
    /** The session's state now: its `cwd`, `status` (`idle` or `busy`), times and command count. */
    info(): Promise<SessionInfo>;
    /** The session's newest commands, oldest first. */
    history(): Promise<SessionHistory>;
}
