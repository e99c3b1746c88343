// What only real containers can show (scripts/test-containers.sh runs this with SANDBOX_E2E_STACK=containers):
// a sandbox's container is started by its first call (exactly one, however many calls come at once), comes back
// with its sessions after Docker kills it, is removed with its sidecar by destroy, and is its own world.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { callJson, containers, docker, sandboxContainers, startStack } from '../e2e/stack.mjs';

const skip = !containers && 'needs SANDBOX_E2E_STACK=containers (scripts/test-containers.sh)';
let stack;

before(async () => {
  if (!skip) stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const call = (method, path, body) => callJson(stack.base, method, path, body);

const of = (id) => sandboxContainers().filter((c) => c.id === id);
const sidecars = () => docker('ps', '-a', '--filter', 'name=-proxy$', '--format', '{{.Names}}').split('\n').filter(Boolean);

test('concurrent first calls to a new sandbox start exactly one container', { skip }, async () => {
  assert.equal(of('first').length, 0);
  const results = await Promise.all(
    Array.from({ length: 8 }, () => call('POST', '/v1/sandboxes/first/exec', { command: 'cat /proc/1/comm; hostname' })),
  );
  for (const r of results) assert.equal(r.status, 200, r.text);
  assert.equal(new Set(results.map((r) => r.json.stdout)).size, 1, 'every call met the same container');
  assert.equal(results[0].json.stdout.split('\n')[0], 'sandbox-agent', 'the agent is PID 1');
  const made = of('first');
  assert.equal(made.length, 1);
  assert.equal(made[0].state, 'running');
});

test('a container killed from Docker is replaced on the next call, with its sessions back exactly once', { skip }, async () => {
  const created = await call('POST', '/v1/sandboxes/killed/sessions', {
    id: 'keep', env: { API_KEY: 'secret-key' }, cwd: '/workspace/analysis',
  });
  assert.equal(created.status, 201, created.text);
  await call('POST', '/v1/sandboxes/killed/env', { envVars: { LATER: 'set-later' }, sessionId: 'keep' });
  const [before] = of('killed');
  docker('rm', '-f', before.name);
  const r = await call('POST', '/v1/sandboxes/killed/exec', { command: 'echo $API_KEY $LATER; pwd', sessionId: 'keep' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.stdout, 'secret-key set-later\n/workspace/analysis');
  assert.equal(r.headers.get('x-sandbox-sessions-recreated'), 'keep');
  const again = await call('POST', '/v1/sandboxes/killed/exec', { command: 'echo $API_KEY', sessionId: 'keep' });
  assert.equal(again.headers.get('x-sandbox-sessions-recreated'), null, 're-created once, not on every call');
  const sessions = await call('GET', '/v1/sandboxes/killed/sessions');
  assert.deepEqual(sessions.json.sessions.map((s) => s.id), ['keep']);
  const [now] = of('killed');
  assert.equal(now.state, 'running');
});

test("a call that races its agent's death is answered, never left hanging", { skip }, async () => {
  // The kill and the call go out together, so the call may reach the agent while it dies (its connection then
  // is never answered: the object learns from its watch that the container ended) or after (a new agent serves
  // it). Either way an answer comes within seconds: 200, or 503 CONTAINER_UNAVAILABLE saying what happened.
  await call('POST', '/v1/sandboxes/racing/sessions', { id: 'keep' });
  const outcomes = [];
  for (let round = 0; round < 6; round++) {
    const [container] = of('racing').filter((c) => c.state === 'running');
    process.kill(container.pid, 'SIGKILL');
    const started = Date.now();
    const r = await Promise.race([
      call('POST', '/v1/sandboxes/racing/exec', { command: 'echo alive', sessionId: 'keep' }),
      new Promise((ok) => setTimeout(() => ok({ status: 'hung' }), 20_000)),
    ]);
    outcomes.push(`${r.status} in ${Date.now() - started} ms`);
    assert.notEqual(r.status, 'hung', `round ${round}: no answer in 20 s (${outcomes})`);
    if (r.status === 503) {
      assert.equal(r.json.code, 'CONTAINER_UNAVAILABLE', r.text);
      assert.ok(r.headers.get('retry-after'), 'a 503 says when to try again');
    } else {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.stdout, 'alive');
    }
    const next = await call('POST', '/v1/sandboxes/racing/exec', { command: 'echo next', sessionId: 'keep' });
    assert.equal(next.status, 200, `round ${round}: the call after: ${next.text}`);
  }
  console.log(`# a call racing its agent's death: ${outcomes.join(', ')}`);
});

test('destroy removes the container and its sidecar; the next call starts clean', { skip }, async () => {
  await call('POST', '/v1/sandboxes/doomed/files/write', { path: '/workspace/left.txt', content: 'x' });
  const [container] = of('doomed');
  assert.ok(sidecars().includes(`${container.name}-proxy`));
  const destroyed = await call('DELETE', '/v1/sandboxes/doomed');
  assert.equal(destroyed.status, 200, destroyed.text);
  assert.equal(of('doomed').length, 0, 'the container is gone');
  assert.ok(!sidecars().includes(`${container.name}-proxy`), 'and its sidecar');
  const status = await call('GET', '/v1/sandboxes/doomed');
  assert.equal(status.json.running, false);
  const r = await call('POST', '/v1/sandboxes/doomed/files/exists', { path: '/workspace/left.txt' });
  assert.equal(r.json.exists, false, r.text);
  assert.equal(of('doomed').length, 1);
});

test('two sandboxes are two containers: no file, process or variable of one is seen by the other', { skip }, async () => {
  await call('POST', '/v1/sandboxes/iso-a/files/write', { path: '/workspace/secret.txt', content: 'a-only' });
  await call('POST', '/v1/sandboxes/iso-a/env', { envVars: { SECRET: 'a-var' } });
  await call('POST', '/v1/sandboxes/iso-a/exec', { command: 'sleep 300 >/dev/null 2>&1 &' });
  const b = await call('POST', '/v1/sandboxes/iso-b/exec', {
    command: 'echo "[$SECRET]"; find / -name secret.txt 2>/dev/null | wc -l; ps -eo args | grep -c "^sleep 300"; '
      + 'curl -s -m 2 -o /dev/null -w "%{http_code}" http://127.0.0.1:3000/v1/health',
  });
  const [secret, files, sleeps, own] = b.json.stdout.split('\n');
  assert.equal(secret, '[]');
  assert.equal(files, '0');
  assert.equal(sleeps, '0');
  assert.equal(own, '200', "the sandbox's own agent is on its loopback, and only its own");
  const [a] = of('iso-a');
  const [bc] = of('iso-b');
  assert.notEqual(a.name, bc.name);
  assert.notEqual(a.pid, bc.pid);
});

// The agent is PID 1 of the container workerd started (its own PID namespace at this compatibility date): it
// reaps what sandbox code orphans, and ends cleanly on SIGTERM.
const zombies = "ps -eo stat= | grep -c '^Z' || true";

test('orphans in a workerd-started container are reaped by the agent (PID 1)', { skip }, async () => {
  const r = await call('POST', '/v1/sandboxes/reaper/exec', {
    command: 'sleep 1 & for i in $(seq 20); do (true &); (sleep 0.2 &); done; nohup sh -c "sleep 0.3" >/dev/null 2>&1 &',
  });
  assert.equal(r.status, 200, r.text);
  await new Promise((ok) => setTimeout(ok, 1500));
  const after = await call('POST', '/v1/sandboxes/reaper/exec', { command: `cat /proc/1/comm; ${zombies}` });
  assert.equal(after.json.stdout, 'sandbox-agent\n0');
});

test('SIGTERM to a workerd-started container ends its sessions and the agent cleanly; the next call starts anew', { skip }, async () => {
  await call('POST', '/v1/sandboxes/termed/sessions', { id: 'busy', env: { KEPT: 'yes' } });
  const running = call('POST', '/v1/sandboxes/termed/exec', { command: 'sleep 300', sessionId: 'busy' });
  await new Promise((ok) => setTimeout(ok, 300));
  const [container] = of('termed');
  const t0 = Date.now();
  docker('kill', '-s', 'TERM', container.name);
  const ended = await running;
  assert.ok(Date.now() - t0 < 5000, `the exec in flight ended ${Date.now() - t0} ms after SIGTERM`);
  assert.ok(ended.status !== 200 || ended.json.exitCode !== 0, `the command did not complete: ${ended.text}`);
  for (let i = 0; i < 50 && docker('inspect', '-f', '{{.State.Running}}', container.name).trim() === 'true'; i++) {
    await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.equal(docker('inspect', '-f', '{{.State.ExitCode}}', container.name).trim(), '0', 'a clean exit (not restarted)');
  const r = await call('POST', '/v1/sandboxes/termed/exec', { command: 'echo $KEPT', sessionId: 'busy' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.stdout, 'yes');
  assert.equal(r.headers.get('x-sandbox-sessions-recreated'), 'busy');
});
