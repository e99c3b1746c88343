/**
 * Refuses the WebSocket `request` of a page that is not the caller's own: its `Origin` must name the host the
 * request came to (port included), or be one of `allowedOrigins` (exact matches). A request without `Origin` is
 * no page's (browsers send it with every WebSocket); `Origin: null` is never the caller's own.
 */
export declare function checkPageOrigin(request: Request, allowedOrigins?: readonly string[]): void;
/** The host (with its port) the page's request named: its `Host`, or its URL's where the runtime has no `Host`. */
export declare function pageHost(request: Request): string | undefined;
