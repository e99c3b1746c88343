// A watch's events as an async iterator (`watch`): leaving the loop, calling `stop()` or aborting the signal ends
// the watch in the sandbox. A closed connection does not travel through the Workers in between, so the end is
// said: `DELETE .../watch/{watchId}`, and the agent closes the watch's inotify instance.
export class FileWatch {
    #iterator;
    #end;
    #ended;
    /** The `ready` event: changes from then on are reported. */
    ready;
    /** The watch's id in the sandbox. */
    watchId;
    constructor(events, ready, watchId, end) {
        this.ready = ready;
        this.watchId = watchId;
        this.#end = end;
        this.#iterator = this.#follow(events);
    }
    async *#follow(events) {
        try {
            yield* events;
        }
        finally {
            await this.#endOnce();
        }
    }
    #endOnce() {
        return (this.#ended ??= this.#end().catch(() => { }));
    }
    [Symbol.asyncIterator]() {
        return this.#iterator;
    }
    /** Ends the watch in the sandbox (what a `break` out of the loop does). */
    async stop() {
        await this.#iterator.return(undefined);
        await this.#endOnce();
    }
}
