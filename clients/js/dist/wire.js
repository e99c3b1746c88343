// Generated from the protocol crate (protocol/src/schema.rs): do not edit. The shapes of the bodies on the
// wire, as the agent and the Worker send and accept them; the client's own types (types.ts) are checked
// against them in wire-check.ts. `SANDBOX_WRITE_GENERATED=1 cargo test -p sandbox-protocol` writes it anew.
export {};
