import type { WatchEvent } from './types.js';
export declare class FileWatch implements AsyncIterable<WatchEvent> {
    #private;
    /** The `ready` event: changes from then on are reported. */
    readonly ready: WatchEvent;
    /** The watch's id in the sandbox. */
    readonly watchId: string;
    constructor(events: AsyncGenerator<WatchEvent>, ready: WatchEvent, watchId: string, end: () => Promise<void>);
    [Symbol.asyncIterator](): AsyncGenerator<WatchEvent>;
    /** Ends the watch in the sandbox (what a `break` out of the loop does). */
    stop(): Promise<void>;
}
