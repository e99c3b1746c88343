// Whether a browser page may use what a caller Worker hands on to a sandbox (a terminal's WebSocket): the same
// rule as the protocol crate's `screen::check_page_origin`, which the Rust client uses.
import { SandboxError } from './errors.js';
/**
 * Refuses the WebSocket `request` of a page that is not the caller's own: its `Origin` must name the host the
 * request came to (port included), or be one of `allowedOrigins` (exact matches). A request without `Origin` is
 * no page's (browsers send it with every WebSocket); `Origin: null` is never the caller's own.
 */
export function checkPageOrigin(request, allowedOrigins = []) {
    const origin = request.headers.get('origin');
    if (origin === null || allowedOrigins.includes(origin))
        return;
    const ownHost = pageHost(request);
    const separator = origin.indexOf('://');
    const host = separator < 0 ? '' : origin.slice(separator + 3);
    if (host !== '' && !host.includes('/') && ownHost !== undefined && host.toLowerCase() === ownHost.toLowerCase())
        return;
    throw new SandboxError('CROSS_SITE_REFUSED', `a terminal opens only for a page of this Worker's own host${ownHost ? ` (${ownHost})` : ''}, not for one of ${JSON.stringify(origin)} (allowedOrigins lists others)`, 403);
}
/** The host (with its port) the page's request named: its `Host`, or its URL's where the runtime has no `Host`. */
export function pageHost(request) {
    const header = request.headers.get('host');
    if (header)
        return header;
    try {
        return new URL(request.url).host || undefined;
    }
    catch {
        return undefined;
    }
}
