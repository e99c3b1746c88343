// A watch's events as an async iterator (`watch`): leaving the loop, calling `stop()` or aborting the signal ends
// the watch in the sandbox. A closed connection does not travel through the Workers in between, so the end is
// said: `DELETE .../watch/{watchId}`, and the agent closes the watch's inotify instance.

import type { WatchEvent } from './types.js';

export class FileWatch implements AsyncIterable<WatchEvent> {
  readonly #iterator: AsyncGenerator<WatchEvent>;
  readonly #end: () => Promise<void>;
  #ended: Promise<void> | undefined;
  /** The `ready` event: changes from then on are reported. */
  readonly ready: WatchEvent;
  /** The watch's id in the sandbox. */
  readonly watchId: string;

  constructor(events: AsyncGenerator<WatchEvent>, ready: WatchEvent, watchId: string, end: () => Promise<void>) {
    this.ready = ready;
    this.watchId = watchId;
    this.#end = end;
    this.#iterator = this.#follow(events);
  }

  async *#follow(events: AsyncGenerator<WatchEvent>): AsyncGenerator<WatchEvent> {
    try {
      yield* events;
    } finally {
      await this.#endOnce();
    }
  }

  #endOnce(): Promise<void> {
    return (this.#ended ??= this.#end().catch(() => {}));
  }

  [Symbol.asyncIterator](): AsyncGenerator<WatchEvent> {
    return this.#iterator;
  }

  /** Ends the watch in the sandbox (what a `break` out of the loop does). */
  async stop(): Promise<void> {
    await this.#iterator.return(undefined);
    await this.#endOnce();
  }
}
