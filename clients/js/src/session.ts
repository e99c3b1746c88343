// `ExecutionSession`: what `createSession` and `getSession` return, the sandbox's methods bound to one session.

import { Operations } from './operations.js';
import { ROUTES } from './protocol.js';
import { withId, type Transport } from './transport.js';
import type { SessionHistory, SessionInfo } from './types.js';

export class ExecutionSession extends Operations {
  /** The session's id: pass it to `getSession` or `deleteSession`. */
  readonly id: string;

  /** @internal Made by `Sandbox.createSession` and `Sandbox.getSession`. */
  constructor(transport: Transport, id: string) {
    super(transport, id);
    this.id = id;
  }

  /** The session's state now: its `cwd`, `status` (`idle` or `busy`), times and command count. */
  async info(): Promise<SessionInfo> {
    return this.transport.call('GET', withId(ROUTES.session, this.id));
  }

  /** The session's newest commands, oldest first. */
  async history(): Promise<SessionHistory> {
    return this.transport.call('GET', withId(ROUTES.sessionHistory, this.id));
  }
}
