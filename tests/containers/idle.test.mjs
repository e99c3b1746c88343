// Idle stop through real containers (scripts/test-containers.sh runs this with SANDBOX_E2E_STACK=containers): with a
// short SANDBOX_SLEEP_AFTER a sandbox's container is stopped once nobody calls, never while an exec or a stream is
// still being answered or a terminal is watched, and the next call starts it again with the sandbox's sessions
// back and its workspace as it was saved before the stop.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { callJson, containers, docker, openWebSocket, sandboxContainers, startStack } from '../e2e/stack.mjs';

const skip = !containers && 'needs SANDBOX_E2E_STACK=containers (scripts/test-containers.sh)';
const SLEEP_AFTER_S = 3;
let stack;

before(async () => {
  if (!skip) stack = await startStack({ vars: { SANDBOX_SLEEP_AFTER: `${SLEEP_AFTER_S}s` } });
});
after(async () => {
  await stack?.stop();
});

const call = (method, path, body) => callJson(stack.base, method, path, body);

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const running = (id) => sandboxContainers().filter((c) => c.id === id && c.state === 'running');

/** Waits until the sandbox has no running container; returns how long that took. */
async function stopped(id, limitMs) {
  const t0 = Date.now();
  while (running(id).length > 0) {
    if (Date.now() - t0 > limitMs) throw new Error(`${id}: still running after ${limitMs} ms`);
    await sleep(200);
  }
  return Date.now() - t0;
}

test('an idle sandbox is stopped after SANDBOX_SLEEP_AFTER, and the next call wakes it with its sessions', { skip }, async () => {
  const t0 = Date.now();
  const created = await call('POST', '/v1/sandboxes/sleepy/sessions', { id: 'keep', env: { KEPT: 'yes' }, cwd: '/workspace/w' });
  assert.equal(created.status, 201, created.text);
  const createdMs = Date.now() - t0;
  // Work written before the sleep: saved before the container is stopped, and back in the new one.
  const wrote = await call('POST', '/v1/sandboxes/sleepy/exec', {
    command: "printf 'a\\0b' > bin && echo notes > notes.txt && chmod 600 notes.txt && mkdir -p empty && ln -s notes.txt link",
    sessionId: 'keep',
  });
  assert.equal(wrote.status, 200, wrote.text);
  const describe = "cd /workspace && find . -mindepth 1 -printf '%p %y %m %s %T@ %l\\n' | sort && find . -type f -exec sha256sum {} + | sort -k2";
  const before = await call('POST', '/v1/sandboxes/sleepy/exec', { command: describe });
  const [container] = running('sleepy');
  assert.ok(container);
  const stopMs = await stopped('sleepy', (SLEEP_AFTER_S + 15) * 1000);
  const status = await call('GET', '/v1/sandboxes/sleepy');
  const seen = `created in ${createdMs} ms, stopped ${stopMs} ms later; status ${status.text}; `
    + `container ${docker('ps', '-a', '--filter', `name=^/${container.name}$`, '--format', '{{.Status}}').trim() || 'removed'}`;
  assert.equal(status.json.running, false, seen);
  assert.match(status.json.stopReason ?? '', /idle for 3 s/, seen);
  assert.equal(status.json.lastSave?.ok, true, seen);
  const r = await call('POST', '/v1/sandboxes/sleepy/exec', { command: 'echo $KEPT; pwd', sessionId: 'keep' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.stdout, 'yes\n/workspace/w');
  assert.equal(r.headers.get('x-sandbox-sessions-recreated'), 'keep');
  assert.equal(running('sleepy').length, 1);
  const after = await call('POST', '/v1/sandboxes/sleepy/exec', { command: describe });
  assert.equal(after.json.stdout, before.json.stdout, 'the workspace came back byte for byte');
  const woke = await call('GET', '/v1/sandboxes/sleepy');
  assert.equal(woke.json.lastRestore?.ok, true, woke.text);
});

test('no idle stop while an exec runs longer than SANDBOX_SLEEP_AFTER; idle counts from its end', { skip }, async () => {
  await call('POST', '/v1/sandboxes/busy/exec', { command: 'true' });
  const [before] = running('busy');
  const t0 = Date.now();
  const r = await call('POST', '/v1/sandboxes/busy/exec', { command: `sleep ${SLEEP_AFTER_S * 3}; echo done` });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.stdout, 'done');
  assert.ok(Date.now() - t0 >= SLEEP_AFTER_S * 3000);
  const [same] = running('busy');
  assert.equal(same?.name, before.name, 'the container that ran it is still running');
  assert.equal(same.pid, before.pid);
  // Files written by the exec are still there a moment later: the sandbox is not stopped the instant it ends.
  await sleep(1000);
  assert.equal(running('busy')[0]?.pid, before.pid);
  await stopped('busy', (SLEEP_AFTER_S + 15) * 1000);
});

test('no idle stop while a stream is being read', { skip }, async () => {
  await call('POST', '/v1/sandboxes/streaming/exec', { command: 'true' });
  const [before] = running('streaming');
  const res = await fetch(`${stack.base}/v1/sandboxes/streaming/exec/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ command: `for i in $(seq ${SLEEP_AFTER_S * 3}); do echo tick $i; sleep 1; done` }),
  });
  const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')));
  assert.equal(events.at(-1).type, 'complete', JSON.stringify(events.at(-1)));
  assert.equal(events.at(-1).exitCode, 0);
  assert.equal(events.filter((e) => e.type === 'stdout').map((e) => e.data).join('').split('\n').filter(Boolean).length, SLEEP_AFTER_S * 3);
  assert.equal(running('streaming')[0]?.pid, before.pid, 'the same container throughout');
});

test('no idle stop while someone watches a terminal, though no call comes; stopped once nobody does', { skip }, async () => {
  const ws = await openWebSocket(stack.base, '/v1/sandboxes/watched/pty?cols=80&rows=24');
  assert.equal(ws.refused, undefined, ws.body);
  assert.equal((await ws.text()).type, 'ready');
  const [before] = running('watched');
  // Watching, not typing: the terminal's traffic never reaches the Durable Object.
  await sleep(SLEEP_AFTER_S * 3000 + 2000);
  assert.equal(running('watched')[0]?.pid, before.pid, 'the same container throughout');
  ws.send('echo still $((40+2))\r');
  await ws.until('still 42');
  ws.close();
  // The agent sees the viewer go (the list is a call too: the idle time counts from the last one).
  const deadline = Date.now() + 10_000;
  for (;;) {
    const list = await call('GET', '/v1/sandboxes/watched/ptys');
    assert.equal(list.status, 200, list.text);
    if (list.json.ptys.every((pty) => pty.attached === 0)) break;
    assert.ok(Date.now() < deadline, `the viewer is still attached: ${list.text}`);
    await sleep(200);
  }
  await stopped('watched', (SLEEP_AFTER_S + 15) * 1000);
});
