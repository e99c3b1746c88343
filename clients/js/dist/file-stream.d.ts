/**
 * The chunks of a file's stream (from `readFileStream`) in order. Leaving the loop early (`break`, a `throw`)
 * cancels the stream, which stops the read in the sandbox.
 */
export declare function streamFile(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined>;
/** All of a file's stream as one array of bytes (for a file known to fit in memory). */
export declare function collectFile(stream: ReadableStream<Uint8Array>): Promise<Uint8Array>;
