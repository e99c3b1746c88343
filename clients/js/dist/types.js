// The types of the client's API: every option and result, named and shaped as in the Cloudflare Sandbox SDK.
// Each result agrees with its wire type (wire.ts, generated from the `sandbox-protocol` crate that the agent and the
// Worker use): wire-check.ts does not compile when they drift apart.
export {};
