// The Worker's entry module. The Worker is Rust (lib.rs, compiled by worker-build into build/worker); this file
// only makes sure that a failure inside the WASM — a panic or a trap, which Rust on wasm32 cannot catch — still
// reaches the caller as `{code, message}` JSON, never as the runtime's error page or a hung request. A panic in
// async Rust surfaces as a global `error` event while the request's promise never settles, so each request
// races its promise against that event. The generated module re-initialises its WASM instance after such a
// failure, so the next request is served normally.
import Worker, { SandboxObject } from '../build/worker/shim.mjs';

function failed(error) {
  console.error('sandbox-rs: the Worker failed', error);
  const message = `the Worker failed: ${error?.message ?? String(error)}`;
  return Response.json({ code: 'INTERNAL_ERROR', message }, { status: 500 });
}

function guarded(run) {
  return new Promise((resolve) => {
    const onError = (event) => settle(failed(event.error ?? event));
    const settle = (response) => {
      removeEventListener('error', onError);
      resolve(response);
    };
    addEventListener('error', onError);
    Promise.resolve()
      .then(run)
      .then(settle, (error) => settle(failed(error)));
  });
}

export default class extends Worker {
  fetch(request) {
    return guarded(() => super.fetch(request));
  }
}

// The Durable Object class, deployed as `Sandbox` (wrangler.toml: its name is stored state; renaming it would need a
// migration). In Rust it is `SandboxObject`, apart from the agent's and the clients' sandboxes.
export class Sandbox extends SandboxObject {
  fetch(request) {
    return guarded(() => super.fetch(request));
  }
}
