// A sandbox whose agent cannot start (scripts/test-containers.sh runs this with SANDBOX_E2E_STACK=containers): the
// sandbox Worker, unchanged, with an image whose process exits at once (failing-image/). Calls fail promptly with
// CONTAINER_UNAVAILABLE and a Retry-After, say why, and leave no container restarting behind them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { containers, docker, startStack } from '../e2e/stack.mjs';

const skip = !containers && 'needs SANDBOX_E2E_STACK=containers (scripts/test-containers.sh)';
const PREFIX = 'workerd-sandbox-rs-failing-Sandbox-';
let stack;

before(async () => {
  if (!skip) stack = await startStack({ config: join(import.meta.dirname, 'failing-image', 'wrangler.toml') });
});
after(async () => {
  await stack?.stop();
  if (!skip) {
    const left = ours();
    if (left.length) docker('rm', '-f', ...left.map((c) => c.name));
  }
});

/** This Worker's containers and sidecars, with their state and restart count. */
function ours() {
  const names = docker('ps', '-a', '--filter', `name=^/${PREFIX}`, '--format', '{{.Names}}').split('\n').filter(Boolean);
  return names.map((name) => {
    const [state, restarts] = docker('inspect', '-f', '{{.State.Status}} {{.RestartCount}}', name).trim().split(' ');
    return { name, state, restarts: Number(restarts) };
  });
}

async function exec(sandbox) {
  const started = Date.now();
  const res = await fetch(`${stack.base}/v1/sandboxes/${sandbox}/exec`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ command: 'true' }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { throw new Error(`${sandbox}: not JSON (HTTP ${res.status}): ${text}`); }
  return { status: res.status, json, retryAfter: res.headers.get('retry-after'), ms: Date.now() - started };
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

test('a container whose agent cannot start fails the call promptly, and is not left restarting', { skip }, async () => {
  const first = await exec('broken');
  assert.equal(first.status, 503, JSON.stringify(first.json));
  assert.equal(first.json.code, 'CONTAINER_UNAVAILABLE');
  assert.match(first.json.message, /ended before its agent answered \(.*exit code: 3\)/);
  assert.ok(Number(first.retryAfter) >= 1, `Retry-After: ${first.retryAfter}`);
  assert.ok(first.ms < 15_000, `answered in ${first.ms} ms, not after the 30 s start deadline`);

  // Within the back-off the next call is refused without starting anything.
  const second = await exec('broken');
  assert.equal(second.status, 503);
  assert.match(second.json.message, /failed to start .* tried again in \d+ s/);
  assert.ok(second.ms < 2_000, `refused in ${second.ms} ms`);

  // Nothing keeps restarting: after a while no container of this Worker exists, or none is running or restarting.
  await sleep(3_000);
  const left = ours();
  assert.deepEqual(left.filter((c) => c.state === 'running' || c.state === 'restarting'), [], JSON.stringify(left));
  const restarts = left.map((c) => c.restarts);
  await sleep(2_000);
  assert.deepEqual(ours().map((c) => c.restarts), restarts, 'no restart count grows');

  // After the back-off it is tried again, and fails the same way.
  await sleep(1_000);
  const third = await exec('broken');
  assert.equal(third.status, 503);
  assert.match(third.json.message, /ended before its agent answered/);
});
