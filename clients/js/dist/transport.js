// How the client reaches the sandbox Worker: through a service binding (anything with `fetch`) or by URL from
// outside Cloudflare. Every call is JSON over HTTP to `/v1/sandboxes/{id}/...`; non-2xx answers become typed errors.
import { SandboxError, ValidationError, errorFromBody } from './errors.js';
import { BINDING_ORIGIN, FRAMED_CONTENT_TYPE, MAX_FRAME, SANDBOXES_PREFIX } from './protocol.js';
/** An id as one path segment: encoded, and refused when a URL would rewrite it (empty, `.`, `..`: a session `..`
 * would address the sandbox itself). */
export function idSegment(id) {
    if (typeof id !== 'string' || id === '' || id === '.' || id === '..') {
        throw new ValidationError('VALIDATION_FAILED', `id ${JSON.stringify(id)} cannot be part of a URL path`, 400);
    }
    return encodeURIComponent(id);
}
/** A route of the protocol (`ROUTES`) with its session id filled in. */
export function withId(route, id) {
    return route.replace('{id}', idSegment(id));
}
/** `path` with the query's defined parameters after a `?`; `Q` is a wire query type, so every name is the protocol's. */
export function withQuery(path, query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
        if (value !== undefined)
            params.set(name, String(value));
    }
    const text = params.toString();
    return text ? `${path}?${text}` : path;
}
export class Transport {
    #send;
    #base;
    #token;
    #binding;
    #tokenGiven;
    constructor(binding, sandboxId, token) {
        this.#binding = binding;
        this.#tokenGiven = token;
        // An id a URL would rewrite (empty, `.`, `..`) is refused here, not sent as another route.
        const path = SANDBOXES_PREFIX + idSegment(sandboxId);
        if (isFetcher(binding)) {
            this.#send = (request) => binding.fetch(request);
            this.#base = BINDING_ORIGIN + path;
            this.#token = token;
        }
        else if (typeof binding?.url === 'string') {
            this.#send = (request) => fetch(request);
            this.#base = binding.url.replace(/\/+$/, '') + path;
            this.#token = token ?? binding.token;
        }
        else {
            throw new TypeError('getSandbox needs a service binding (with fetch) or { url, token? }');
        }
    }
    /** The same binding and token, for another sandbox. */
    forSandbox(sandboxId) {
        return new Transport(this.#binding, sandboxId, this.#tokenGiven);
    }
    /** Sends a call and returns its JSON result; a non-2xx answer is thrown as a `SandboxError`. */
    async call(method, path, body, signal) {
        const response = await this.open(method, path, body, signal);
        return (await untilAborted(readJson(response), signal));
    }
    /** Sends a call and returns the response once it is known to be a success (its body unread). */
    async open(method, path, body, signal, extra = {}) {
        const headers = new Headers(extra);
        if (body !== undefined)
            headers.set('content-type', 'application/json');
        return this.#exchange(method, path, headers, body === undefined ? undefined : JSON.stringify(body), signal);
    }
    /**
     * Sends `bytes` as the body of a call and returns its JSON result: bytes raw (their length declared, which every
     * hop holds to), a stream as frames (`framed`), so that one cut off on the way is never taken as whole.
     */
    async upload(method, path, bytes, signal) {
        const stream = bytes instanceof ReadableStream;
        const headers = new Headers({ 'content-type': stream ? FRAMED_CONTENT_TYPE : 'application/octet-stream' });
        const body = stream ? framed(bytes) : bytes;
        const response = await this.#exchange(method, path, headers, body, signal);
        return (await untilAborted(readJson(response), signal));
    }
    async #exchange(method, path, headers, body, signal) {
        if (this.#token !== undefined)
            headers.set('authorization', `Bearer ${this.#token}`);
        // `duplex` is what Node's fetch asks of a streamed body; the Workers runtime streams one without it.
        const init = { method, headers };
        if (body !== undefined)
            init.body = body;
        if (body instanceof ReadableStream)
            init.duplex = 'half';
        if (signal !== undefined)
            init.signal = signal;
        let response;
        try {
            response = await untilAborted(this.#send(new Request(this.#base + path, init)), signal);
        }
        catch (error) {
            if (signal?.aborted)
                throw signal.reason;
            const message = error instanceof Error ? error.message : String(error);
            throw new SandboxError('NETWORK_ERROR', `the sandbox cannot be reached: ${message}`, 0, {}, { cause: error });
        }
        // A WebSocket accepted (101) is a success too.
        if (!response.ok && response.status !== 101) {
            const text = await response.text().catch(() => '');
            let parsed;
            try {
                parsed = JSON.parse(text);
            }
            catch {
                parsed = { message: `HTTP ${response.status}: ${text.slice(0, 200)}` };
            }
            throw errorFromBody(parsed, response.status, response.headers.get('retry-after'));
        }
        return response;
    }
}
/**
 * Asks for a WebSocket at `path` (Workers runtime: the answer is a `101` carrying `webSocket`). A refusal is thrown
 * as a `SandboxError`, as for any call.
 */
export async function upgrade(transport, path, headers = {}) {
    return transport.open('GET', path, undefined, undefined, { ...headers, upgrade: 'websocket' });
}
/**
 * `work`, or the signal's reason as soon as it aborts. The fetch is aborted through the same signal; this makes the
 * rejection certain even where that link is lost (Node's fetch follows a `Request`'s signal through weak
 * references, and a collected link once left an aborted exec waiting for its command to end).
 */
function untilAborted(work, signal) {
    if (signal === undefined)
        return work;
    if (signal.aborted)
        return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        work.then((value) => {
            signal.removeEventListener('abort', onAbort);
            resolve(value);
        }, (error) => {
            signal.removeEventListener('abort', onAbort);
            reject(error);
        });
    });
}
function isFetcher(binding) {
    return typeof binding?.fetch === 'function';
}
async function readJson(response) {
    const text = await response.text();
    try {
        return JSON.parse(text);
    }
    catch {
        throw new SandboxError('INVALID_RESPONSE', `the sandbox answered with something that is not JSON: ${text.slice(0, 200)}`, response.status);
    }
}
/** `stream` as the frames of a framed upload: each chunk after its length (4 bytes, big-endian), then a frame of length 0. */
function framed(stream) {
    const head = (length) => {
        const bytes = new Uint8Array(4);
        new DataView(bytes.buffer).setUint32(0, length);
        return bytes;
    };
    return stream.pipeThrough(new TransformStream({
        transform(chunk, controller) {
            for (let at = 0; at < chunk.length; at += MAX_FRAME) {
                const part = chunk.subarray(at, at + MAX_FRAME);
                controller.enqueue(head(part.length));
                controller.enqueue(part);
            }
        },
        flush(controller) {
            controller.enqueue(head(0));
        },
    }));
}
