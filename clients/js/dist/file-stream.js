// Reading what `readFileStream` returns: its chunks as an async iterator, and the whole of it as bytes.
/**
 * The chunks of a file's stream (from `readFileStream`) in order. Leaving the loop early (`break`, a `throw`)
 * cancels the stream, which stops the read in the sandbox.
 */
export async function* streamFile(stream) {
    const reader = stream.getReader();
    let finished = false;
    try {
        for (;;) {
            const { done, value } = await reader.read();
            if (done) {
                finished = true;
                return;
            }
            yield value;
        }
    }
    finally {
        if (!finished)
            await reader.cancel().catch(() => { });
        reader.releaseLock();
    }
}
/** All of a file's stream as one array of bytes (for a file known to fit in memory). */
export async function collectFile(stream) {
    const chunks = [];
    let size = 0;
    for await (const chunk of streamFile(stream)) {
        chunks.push(chunk);
        size += chunk.length;
    }
    const all = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
        all.set(chunk, at);
        at += chunk.length;
    }
    return all;
}
