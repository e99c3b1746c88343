// Server-sent events: `parseSSEStream` turns the byte stream of `execStream` into typed events.
import { SandboxError } from './errors.js';
/**
 * Yields the JSON of each event's `data:` lines, in order. Comments and other fields are skipped; a stream that is
 * not UTF-8 JSON is an error. Aborting `signal`, or leaving the loop early, cancels the stream (and with it the
 * command).
 */
export async function* parseSSEStream(stream, signal) {
    const reader = stream.getReader();
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const onAbort = () => void reader.cancel(signal?.reason).catch(() => { });
    signal?.addEventListener('abort', onAbort, { once: true });
    let buffer = '';
    let data = [];
    let finished = false;
    try {
        for (;;) {
            if (signal?.aborted)
                throw signal.reason;
            const { value, done } = await reader.read();
            if (done) {
                finished = true;
                break;
            }
            buffer += decoder.decode(value, { stream: true });
            let newline;
            while ((newline = buffer.indexOf('\n')) >= 0) {
                const line = buffer.slice(0, newline).replace(/\r$/, '');
                buffer = buffer.slice(newline + 1);
                if (line === '') {
                    if (data.length > 0)
                        yield parseEvent(data.join('\n'));
                    data = [];
                }
                else if (line.startsWith('data:')) {
                    data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
                }
            }
        }
        if (signal?.aborted)
            throw signal.reason;
        const rest = buffer + decoder.decode();
        if (rest.startsWith('data:'))
            data.push(rest.slice(rest.startsWith('data: ') ? 6 : 5));
        if (data.length > 0)
            yield parseEvent(data.join('\n'));
    }
    finally {
        signal?.removeEventListener('abort', onAbort);
        // Left early (a `break`, an error): cancel the stream, which ends the command.
        if (!finished)
            await reader.cancel().catch(() => { });
        reader.releaseLock();
    }
}
function parseEvent(data) {
    try {
        return JSON.parse(data);
    }
    catch {
        throw new SandboxError('INVALID_RESPONSE', `an event is not JSON: ${data.slice(0, 200)}`, 200);
    }
}
