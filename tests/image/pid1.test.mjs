// The agent as PID 1 of its container (the image named by SANDBOX_IMAGE, as scripts/test-image.sh builds it):
// it is PID 1, it reaps every orphan, and `docker stop` (SIGTERM) ends it cleanly within a few seconds. Each test
// runs its own container on the host network, its agent on a loopback port.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { freePort } from '../e2e/stack.mjs';

const image = process.env.SANDBOX_IMAGE;
const json = { 'content-type': 'application/json' };
const started = [];

function docker(...args) {
  const run = spawnSync('docker', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`docker ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim();
}

/// Starts a container of the image with the agent on a free loopback port; returns its name and base URL.
async function start() {
  const port = await freePort();
  const name = `sandbox-rs-pid1-${process.pid}-${started.length}`;
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

async function exec(base, command, sessionId) {
  const res = await fetch(`${base}/v1/exec`, { method: 'POST', headers: json, body: JSON.stringify({ command, sessionId }) });
  assert.equal(res.status, 200);
  return (await res.json()).stdout;
}

const zombies = "ps -eo stat= | grep -c '^Z' || true";

after(() => {
  for (const name of started) spawnSync('docker', ['rm', '-f', name]);
});

test('the agent is PID 1 and runs commands in /workspace', { skip: !image && 'SANDBOX_IMAGE is not set' }, async () => {
  const { base } = await start();
  assert.equal(await exec(base, 'cat /proc/1/comm'), 'sandbox-agent');
  assert.equal(await exec(base, 'pwd'), '/workspace');
  assert.equal(await exec(base, 'command -v bash git curl python3 ps find | wc -l'), '6');
});

test('orphans are reaped: no zombies after background jobs and double forks', { skip: !image && 'SANDBOX_IMAGE is not set' }, async () => {
  const { base } = await start();
  await exec(base, 'sleep 1 &');
  await exec(base, 'for i in $(seq 20); do (true &); (sleep 0.2 &); done');
  await exec(base, 'nohup sh -c "sleep 0.3" >/dev/null 2>&1 &');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await exec(base, zombies), '0');
  // Nor does a later session.
  await fetch(`${base}/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'later' }) });
  assert.equal(await exec(base, zombies, 'later'), '0');
});

test('SIGTERM (docker stop) ends sessions and the agent cleanly within a few seconds', { skip: !image && 'SANDBOX_IMAGE is not set' }, async () => {
  const { name, base } = await start();
  await fetch(`${base}/v1/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ id: 'busy' }) });
  await exec(base, 'sleep 300 &');
  // A command still running when the stop comes.
  const running = fetch(`${base}/v1/exec`, { method: 'POST', body: JSON.stringify({ command: 'sleep 300', sessionId: 'busy' }) }).catch(() => null);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  docker('stop', '-t', '20', name);
  const took = Date.now() - t0;
  await running;
  assert.ok(took < 5000, `docker stop took ${took} ms`);
  assert.equal(docker('inspect', '-f', '{{.State.ExitCode}}', name), '0');
});
