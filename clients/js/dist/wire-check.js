// The client's types (types.ts) checked against the wire's (wire.ts, generated from the protocol crate): this file
// compiles only while they agree, so `npm run lint` (tsc) fails on drift. For every body the client reads, the
// two have the same fields, and whatever the server sends (`wire`) fits what the client promises its caller
// (optional fields the client fills in itself, such as `ended`, are compared as if present). What the client
// sends is typed with the wire's request types where it is built (operations.ts, sandbox.ts).
export {};
