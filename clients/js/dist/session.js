// `ExecutionSession`: what `createSession` and `getSession` return, the sandbox's methods bound to one session.
import { Operations } from './operations.js';
import { ROUTES } from './protocol.js';
import { withId } from './transport.js';
export class ExecutionSession extends Operations {
    /** The session's id: pass it to `getSession` or `deleteSession`. */
    id;
    /** @internal Made by `Sandbox.createSession` and `Sandbox.getSession`. */
    constructor(transport, id) {
        super(transport, id);
        this.id = id;
    }
    /** The session's state now: its `cwd`, `status` (`idle` or `busy`), times and command count. */
    async info() {
        return this.transport.call('GET', withId(ROUTES.session, this.id));
    }
    /** The session's newest commands, oldest first. */
    async history() {
        return this.transport.call('GET', withId(ROUTES.sessionHistory, this.id));
    }
}
