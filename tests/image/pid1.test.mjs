// The agent as PID 1 of its container (the image named by SANDBOX_IMAGE, as scripts/test-image.sh builds it):
// it is PID 1, it reaps every orphan, and `docker stop` (SIGTERM) ends it cleanly within a few seconds. Each test
// runs its own container on the host network, its agent on a loopback port.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { docker, exec, json, needsImage, start as startIn } from './agent.mjs';

const start = () => startIn('pid1');

const zombies = "ps -eo stat= | grep -c '^Z' || true";

test('the agent is PID 1 and runs commands in /workspace', needsImage, async () => {
  const { base } = await start();
  assert.equal(await exec(base, 'cat /proc/1/comm'), 'sandbox-agent');
  assert.equal(await exec(base, 'pwd'), '/workspace');
  assert.equal(await exec(base, 'command -v bash git curl python3 ps find | wc -l'), '6');
});

test('orphans are reaped: no zombies after background jobs and double forks', needsImage, async () => {
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

test('SIGTERM (docker stop) ends sessions and the agent cleanly within a few seconds', needsImage, async () => {
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
