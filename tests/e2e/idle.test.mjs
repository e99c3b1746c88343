// The idle stop in local mode, as deployed: a sandbox nobody calls for SANDBOX_SLEEP_AFTER has its jail stopped
// (its processes end; its files stay, as a local folder does), the status route says when and why (and says
// nothing while calls keep coming), and its next call starts it anew. With containers the same is tested in
// tests/containers/idle.test.mjs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { getSandbox } from 'sandbox-rs';
import { startStack } from './stack.mjs';

let stack;

before(async () => {
  stack = await startStack({ vars: { SANDBOX_SLEEP_AFTER: '2s', SANDBOX_SAVE_EVERY: '1s' } });
});
after(async () => {
  await stack?.stop();
});

test('a local sandbox left alone is stopped, its status says so, and its next call starts it anew', async (t) => {
  if (stack.containers) return t.skip('tests/containers/idle.test.mjs tests the containers');
  const sandbox = getSandbox({ url: stack.base }, `idle-${process.pid}`);
  await sandbox.writeFile('/workspace/kept.txt', 'kept');
  const proc = await sandbox.startProcess('sleep 300');
  // Calls every half second for twice the idle time: no stop is decided meanwhile.
  for (let i = 0; i < 8; i++) {
    await sleep(500);
    await sandbox.exec('true');
  }
  assert.equal((await sandbox.status()).stoppedAt ?? null, null, 'a stop was decided while calls came');
  // Then nobody calls: the decision comes, with its time and reason.
  let status;
  for (const t0 = Date.now(); Date.now() - t0 < 20_000; await sleep(200)) {
    status = await sandbox.status();
    if (status.stoppedAt) break;
  }
  assert.ok(status.stoppedAt, `no stop after 20 s alone: ${JSON.stringify(status)}`);
  assert.match(status.stopReason, /idle for 2 s \(SANDBOX_SLEEP_AFTER\)/);
  assert.ok(Date.parse(status.stoppedAt) > Date.now() - 30_000);
  // Stopped for real: the next call meets a new jail (the process is gone), and the files are still there.
  assert.equal(await sandbox.getProcess(proc.id), null);
  assert.equal((await sandbox.readFile('/workspace/kept.txt')).content, 'kept');
  assert.equal((await sandbox.exec('echo back')).stdout, 'back');
});

test('the workspace is saved before the idle stop, and a sandbox that lost its files gets the save back', async (t) => {
  if (stack.containers) return t.skip('tests/containers/idle.test.mjs tests the containers');
  const id = `saved-${process.pid}`;
  const sandbox = getSandbox({ url: stack.base }, id);
  const made = await sandbox.exec(
    "mkdir -p /workspace/src/empty && printf 'a\\0b' > /workspace/src/bin && echo notes > /workspace/notes.txt " +
    '&& chmod 600 /workspace/notes.txt && ln -s notes.txt /workspace/link');
  assert.equal(made.exitCode, 0, made.stderr);
  const describe = "cd /workspace && find . -mindepth 1 -printf '%p %y %m %s %T@ %l\\n' | sort && find . -type f -exec sha256sum {} + | sort -k2";
  const before = (await sandbox.exec(describe)).stdout;
  let status;
  for (const t0 = Date.now(); Date.now() - t0 < 20_000; await sleep(200)) {
    status = await sandbox.status();
    if (status.stoppedAt) break;
  }
  assert.ok(status.stoppedAt, `no stop after 20 s alone: ${JSON.stringify(status)}`);
  assert.equal(status.lastSave?.ok, true, JSON.stringify(status));
  assert.equal(status.lastSave.files, 2);
  // The sandbox's files are lost while it sleeps (as a container's are): its next call gets the save back first.
  const folder = join(stack.dir, 'sandboxes', id);
  for (const name of readdirSync(folder)) rmSync(join(folder, name), { recursive: true, force: true });
  assert.equal((await sandbox.exec(describe)).stdout, before);
  const after = await sandbox.status();
  assert.equal(after.lastRestore?.ok, true, JSON.stringify(after));
  assert.equal(after.lastRestore.files, 2);
});

test('a busy sandbox is saved every SANDBOX_SAVE_EVERY, and an agent that dies comes back with the last save', async (t) => {
  if (stack.containers) return t.skip('tests/containers/lifecycle.test.mjs kills containers');
  const id = `busy-${process.pid}`;
  const sandbox = getSandbox({ url: stack.base }, id);
  // Busy for four seconds (a call every 300 ms, well inside the idle time): saved along the way, never stopped.
  let status;
  for (let i = 0; i < 13; i++) {
    await sandbox.writeFile(`/workspace/step-${i}.txt`, String(i));
    await sleep(300);
  }
  status = await sandbox.status();
  assert.equal(status.stoppedAt ?? null, null, JSON.stringify(status));
  assert.equal(status.lastSave?.ok, true, `no save while busy: ${JSON.stringify(status)}`);
  const saved = status.lastSave.files;
  assert.ok(saved >= 1, JSON.stringify(status));
  // The agent dies and the sandbox's files are lost with it, as a container's are: the next call gets the save.
  await stack.restartAgent();
  const folder = join(stack.dir, 'sandboxes', id);
  for (const name of readdirSync(folder)) rmSync(join(folder, name), { recursive: true, force: true });
  const listed = await sandbox.listFiles('/workspace');
  assert.equal(listed.files.length, saved, JSON.stringify(listed.files.map((f) => f.name)));
  assert.equal((await sandbox.readFile('/workspace/step-0.txt')).content, '0');
  assert.equal((await sandbox.status()).lastRestore?.ok, true);
});

/// Waits (up to 20 s) for the sandbox's idle stop (one after the stop at `after`, if given); its status then.
async function stopped(sandbox, after) {
  let status;
  for (const t0 = Date.now(); Date.now() - t0 < 20_000; await sleep(200)) {
    status = await sandbox.status();
    if (status.stoppedAt && status.stoppedAt !== after) return status;
  }
  assert.fail(`no stop after 20 s alone: ${JSON.stringify(status)}`);
}

test('setKeepAlive keeps an idle sandbox up until it is taken back; setSleepAfter gives a sandbox its own idle time', async (t) => {
  if (stack.containers) return t.skip('tests/containers/idle.test.mjs tests the containers');
  const kept = getSandbox({ url: stack.base }, `kept-${process.pid}`);
  const own = getSandbox({ url: stack.base }, `own-${process.pid}`);
  assert.deepEqual(await kept.setKeepAlive(true), { success: true, keepAlive: true, sleepAfterMs: 2000, sleepAfterDefault: true });
  assert.deepEqual(await own.setSleepAfter('1h'), { success: true, keepAlive: false, sleepAfterMs: 3_600_000, sleepAfterDefault: false });
  await Promise.all([kept.exec('true'), own.exec('true')]);
  // Three times the Worker's SANDBOX_SLEEP_AFTER (2 s) without a call: neither stops.
  await sleep(6000);
  for (const sandbox of [kept, own]) {
    const status = await sandbox.status();
    assert.equal(status.stoppedAt ?? null, null, `${sandbox.id} stopped: ${JSON.stringify(status)}`);
    assert.equal(status.running, true);
  }
  assert.deepEqual([(await kept.status()).keepAlive, (await own.status()).sleepAfterMs], [true, 3_600_000]);
  // Taken back: each stops on its own terms, and says whose they were.
  await kept.setKeepAlive(false);
  assert.match((await stopped(kept)).stopReason, /idle for 2 s \(SANDBOX_SLEEP_AFTER\)/);
  await own.setSleepAfter(1);
  assert.match((await stopped(own)).stopReason, /idle for 1 s \(setSleepAfter\)/);
  assert.deepEqual(await own.getSleepSettings(), { success: true, keepAlive: false, sleepAfterMs: 1000, sleepAfterDefault: false });
  assert.equal((await own.setSleepAfter('default')).sleepAfterMs, 2000);

  // Bad settings are refused and change nothing.
  for (const bad of ['soon', 0, '8d', '169h', -5]) {
    const e = await own.setSleepAfter(bad).catch((e) => e);
    assert.equal(e.code, 'VALIDATION_FAILED', `${bad}: ${e}`);
  }
  assert.equal((await own.setKeepAlive('yes').catch((e) => e)).code, 'VALIDATION_FAILED');
  for (const body of ['{"keepAlive":"yes"}', '{"sleepAfter":5}', '{"nap":true}', 'not json']) {
    const r = await fetch(`${stack.base}/v1/sandboxes/${own.id}/sleep`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
    assert.equal(r.status, 400, body);
    assert.equal((await r.json()).code, 'VALIDATION_FAILED', body);
  }
  assert.deepEqual(await own.getSleepSettings(), { success: true, keepAlive: false, sleepAfterMs: 2000, sleepAfterDefault: true });
});

test('a save that fails half way leaves the last good save current, and says so', async (t) => {
  if (stack.containers) return t.skip('local stack: the injected store failure is a test hook of the local Worker');
  const id = `failing-${process.pid}`;
  const sandbox = getSandbox({ url: stack.base }, id);
  const failPuts = (count) => fetch(`${stack.base}/v1/_test/bucket/fail-puts?count=${count}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  await sandbox.writeFile('/workspace/kept.txt', 'the first');
  const first = await stopped(sandbox);
  assert.equal(first.lastSave?.ok, true);
  // Changed, then every blob write of the store fails: the saves (periodic, then before the stop) fail, are
  // recorded, and the sandbox still stops.
  await sandbox.writeFile('/workspace/kept.txt', 'the second, never saved');
  assert.equal((await failPuts(1000)).status, 200);
  let status;
  try {
    status = await stopped(sandbox, first.stoppedAt);
  } finally {
    await failPuts(0);
  }
  assert.equal(status.lastSave?.ok, false, JSON.stringify(status));
  assert.match(status.lastSave.error, /injected failure/);
  // Its files lost with its container: the next call gets the last good save back.
  const folder = join(stack.dir, 'sandboxes', id);
  for (const name of readdirSync(folder)) rmSync(join(folder, name), { recursive: true, force: true });
  assert.equal((await sandbox.readFile('/workspace/kept.txt')).content, 'the first');
  assert.equal((await sandbox.status()).lastRestore?.ok, true);
});

test('calls that come during the save before a stop are served, and keep the sandbox up', async (t) => {
  if (stack.containers) return t.skip('local stack');
  // No periodic saves here: the save under way is the one the idle alarm makes before it stops.
  const quiet = await startStack({ vars: { SANDBOX_SLEEP_AFTER: '2s', SANDBOX_SAVE_EVERY: '0' } });
  try {
    const sandbox = getSandbox({ url: quiet.base }, `saving-${process.pid}`);
    const proc = await sandbox.startProcess('sleep 300');
    assert.equal((await sandbox.exec('head -c 300M /dev/urandom > /workspace/big.bin')).exitCode, 0);
    const saved = (await sandbox.status()).lastSave?.at;
    // Nobody calls: the alarm begins its save; its blobs come into the bucket one by one.
    const blobs = async () => (await (await fetch(`${quiet.base}/v1/_test/bucket/keys?prefix=blobs/${sandbox.id}/`)).json()).keys.length;
    for (const t0 = Date.now(); (await blobs()) === 0; await sleep(50)) {
      if (Date.now() - t0 > 60_000) assert.fail('no save began');
    }
    // Calls while it saves: each answered; once the save is recorded, the sandbox was not stopped under them.
    let status;
    for (const t0 = Date.now(); ; await sleep(200)) {
      assert.equal((await sandbox.exec('echo served')).stdout, 'served');
      status = await sandbox.status();
      if (status.lastSave?.at !== saved) break;
      if (Date.now() - t0 > 120_000) assert.fail(`the save did not end: ${JSON.stringify(status)}`);
    }
    assert.equal(status.lastSave.ok, true, JSON.stringify(status));
    await sleep(500);
    assert.equal((await sandbox.exec('echo still')).stdout, 'still');
    assert.equal((await sandbox.status()).stoppedAt ?? null, null);
    assert.equal((await sandbox.getProcess(proc.id))?.status, 'running');
  } finally {
    await quiet.stop();
  }
});
