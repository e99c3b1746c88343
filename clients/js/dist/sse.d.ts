import type { ExecEvent } from './types.js';
/**
 * Yields the JSON of each event's `data:` lines, in order. Comments and other fields are skipped; a stream that is
 * not UTF-8 JSON is an error. Aborting `signal`, or leaving the loop early, cancels the stream (and with it the
 * command).
 */
export declare function parseSSEStream<T = ExecEvent>(stream: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<T>;
