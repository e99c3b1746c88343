/** An id as one path segment: encoded, and refused when a URL would rewrite it (empty, `.`, `..`: a session `..`
 * would address the sandbox itself). */
export declare function idSegment(id: string): string;
/** A route of the protocol (`ROUTES`) with its session id filled in. */
export declare function withId(route: string, id: string): string;
/** The parameters of a wire query type `Q`, any of them left undefined. */
export type QueryOf<Q> = {
    [K in keyof Q]?: Q[K] | undefined;
};
/** `path` with the query's defined parameters after a `?`; `Q` is a wire query type, so every name is the protocol's. */
export declare function withQuery<Q extends object>(path: string, query: QueryOf<Q>): string;
/** A service binding to the sandbox Worker, or anything else with its `fetch`. */
export interface Fetcher {
    fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
}
/** The sandbox Worker by URL, for callers outside Cloudflare. */
export interface RemoteEndpoint {
    /** The Worker's origin, for example `https://sandbox.example.com` or `http://127.0.0.1:8787`. */
    url: string;
    /** Sent as `Authorization: Bearer <token>` when the Worker has `SANDBOX_API_TOKEN` set. */
    token?: string;
}
export type SandboxBinding = Fetcher | RemoteEndpoint;
export declare class Transport {
    #private;
    constructor(binding: SandboxBinding, sandboxId: string, token?: string);
    /** The same binding and token, for another sandbox. */
    forSandbox(sandboxId: string): Transport;
    /** Sends a call and returns its JSON result; a non-2xx answer is thrown as a `SandboxError`. */
    call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T>;
    /** Sends a call and returns the response once it is known to be a success (its body unread). */
    open(method: string, path: string, body?: unknown, signal?: AbortSignal, extra?: Record<string, string>): Promise<Response>;
    /**
     * Sends `bytes` as the body of a call and returns its JSON result: bytes raw (their length declared, which every
     * hop holds to), a stream as frames (`framed`), so that one cut off on the way is never taken as whole.
     */
    upload<T>(method: string, path: string, bytes: ReadableStream<Uint8Array> | Uint8Array, signal?: AbortSignal): Promise<T>;
}
/**
 * Asks for a WebSocket at `path` (Workers runtime: the answer is a `101` carrying `webSocket`). A refusal is thrown
 * as a `SandboxError`, as for any call.
 */
export declare function upgrade(transport: Transport, path: string, headers?: Record<string, string>): Promise<Response>;
