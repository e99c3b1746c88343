// Agents in containers of the image named by SANDBOX_IMAGE (scripts/test-image.sh builds it), for the image's
// tests: each container on the host network, its agent on a free loopback port, removed after the file's tests.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { freePort } from '../e2e/stack.mjs';

export const image = process.env.SANDBOX_IMAGE;
/// The `skip` option of a test that needs the image.
export const needsImage = { skip: !image && 'SANDBOX_IMAGE is not set' };
export const json = { 'content-type': 'application/json' };
const started = [];

after(() => {
  for (const name of started) spawnSync('docker', ['rm', '-f', name]);
});

export function docker(...args) {
  const run = spawnSync('docker', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`docker ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim();
}

/// Starts a container of the image with the agent on a free loopback port; returns its name and base URL.
export async function start(tag) {
  const port = await freePort();
  const name = `sandbox-rs-${tag}-${process.pid}-${started.length}`;
  docker('run', '-d', '--name', name, '--label', 'sandbox-rs-test', '--network', 'host', image,
    '--listen', `127.0.0.1:${port}`, '--workspace', '/workspace');
  started.push(name);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/v1/health`)).ok) return { name, base };
    } catch {}
    if (Date.now() > deadline) throw new Error(`the agent in ${name} did not answer: ${docker('logs', name)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/// Runs a command in the agent's session (`sessionId`, or the default one) and returns its result.
export async function run(base, command, sessionId, timeout) {
  const res = await fetch(`${base}/v1/exec`, { method: 'POST', headers: json, body: JSON.stringify({ command, sessionId, timeout }) });
  assert.equal(res.status, 200);
  return res.json();
}

/// The stdout of `run`.
export async function exec(base, command, sessionId) {
  return (await run(base, command, sessionId)).stdout;
}
