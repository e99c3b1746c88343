// Background processes through the whole path (the JavaScript client, the Worker, the Durable Object, the agent):
// a dev server that outlives its session and is waited for inside the sandbox, logs that resume, stdin, kill.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { getSandbox, parseSSEStream, Process, ProcessNotFoundError, SandboxError } from 'sandbox-rs';
import { callJson, startStack } from './stack.mjs';

const token = 'processes-token-789';
let stack;
let n = 0;

before(async () => {
  // Keep-alive comments of quiet streams every 300 ms (15 s by default), so that a test sees several.
  stack = await startStack({ token, relay: true, agentArgs: ['--heartbeat-ms', '300'] });
});
after(async () => {
  await stack?.stop();
});

function fresh() {
  return getSandbox({ url: stack.base, token }, `proc-${process.pid}-${++n}`);
}

describe('background processes', () => {
  test('a dev server starts from its session, outlives it, is waited for inside the sandbox and killed', async () => {
    const sandbox = fresh();
    const session = await sandbox.createSession({ id: 'dev', env: { GREETING: 'hello' } });
    await session.exec('mkdir -p site && cd site && echo "$GREETING from the site" > index.html');
    const port = 8000 + (process.pid % 1000);
    const server = await session.startProcess(`echo "serving $GREETING"; exec python3 -m http.server ${port} --bind 127.0.0.1`, { processId: 'web' });
    assert.ok(server instanceof Process);
    assert.equal(server.id, 'web');
    assert.equal(server.status, 'running');
    assert.equal(server.sessionId, 'dev');
    const ready = await server.waitForPort(port, { path: '/index.html', timeout: 20000 });
    assert.equal(ready.process.status, 'running');
    assert.equal((await server.waitForLog('serving')).line, 'serving hello');
    assert.equal((await server.waitForLog(/^serving h.llo$/)).line, 'serving hello');
    // The page is there, seen from inside the sandbox.
    const page = await sandbox.exec(`curl -s http://127.0.0.1:${port}/index.html`);
    assert.equal(page.stdout, 'hello from the site');
    await sandbox.deleteSession('dev');
    assert.equal(await server.getStatus(), 'running', 'ending the session left the process alone');
    const listed = await sandbox.listProcesses();
    assert.deepEqual(listed.map((p) => p.id), ['web']);
    const ended = await server.kill();
    assert.equal(ended.status, 'killed');
    assert.equal(ended.signal, 'SIGTERM');
    assert.equal(server.status, 'killed');
    assert.equal(await sandbox.getProcess('nope'), null);
    await assert.rejects(sandbox.killProcess('nope'), (e) => e instanceof ProcessNotFoundError && e.status === 404);
  });

  test('logs, a live stream that resumes from an offset, stdin and exit codes', async () => {
    const sandbox = fresh();
    const proc = await sandbox.startProcess('for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.1; done; echo done >&2; exit 3');
    const seen = [];
    let last;
    for await (const event of proc.streamLogs()) {
      seen.push(event);
      last = event.offset;
      if (seen.length === 2) break;
    }
    const rest = [];
    // The SDK's form: a ReadableStream of server-sent events, read with parseSSEStream.
    const stream = await sandbox.streamProcessLogs(proc.id, { from: last });
    assert.ok(stream instanceof ReadableStream && typeof stream.getReader === 'function');
    for await (const event of parseSSEStream(stream)) rest.push(event);
    const text = (events, type) => events.filter((e) => e.type === type).map((e) => e.data).join('');
    const all = [...seen, ...rest];
    assert.equal(text(all, 'stdout'), 'tick 1\ntick 2\ntick 3\ntick 4\ntick 5\ntick 6\n');
    assert.equal(text(all, 'stderr'), 'done\n');
    const exit = rest.at(-1);
    assert.equal(exit.type, 'exit');
    assert.equal(exit.process.status, 'failed');
    assert.equal(exit.process.exitCode, 3);
    const logs = await sandbox.getProcessLogs(proc.id);
    assert.equal(logs.stdout.split('\n').length, 7);
    assert.deepEqual(logs.stderrRange, { from: 0, to: 5, dropped: 0 });
    const b64 = await proc.getLogs({ encoding: 'base64' });
    assert.equal(Buffer.from(b64.stderr, 'base64').toString(), 'done\n');

    const cat = await sandbox.startProcess('cat', { processId: 'cat' });
    const stdin = await callJson(stack.base, 'POST', `/v1/sandboxes/${sandbox.id}/processes/cat/stdin`, { data: 'typed\n', end: true }, { authorization: `Bearer ${token}` });
    assert.equal(stdin.status, 200, stdin.text);
    const info = await cat.waitForExit(10000);
    assert.equal(info.status, 'completed');
    assert.equal((await cat.getLogs()).stdout, 'typed\n');
  });

  test('a raw stream through the Worker: resumed with Last-Event-ID, and kept open by comments while quiet', async (t) => {
    const sandbox = fresh();
    const auth = { authorization: `Bearer ${token}` };
    await sandbox.startProcess('echo one; sleep 2; echo two', { processId: 'quiet' });
    const path = `${stack.base}/v1/sandboxes/${sandbox.id}/processes/quiet/stream`;
    // The first event, then the connection is dropped.
    const first = await fetch(path, { headers: auth });
    const reader = first.body.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const id = text.match(/^id: (\d+)$/m)[1];
    assert.match(text, /"data":"one\\n"/);
    // Resumed after it: only what came later, then the end.
    const t0 = Date.now();
    const rest = await (await fetch(path, { headers: { ...auth, 'last-event-id': id } })).text();
    assert.ok(!rest.includes('"one'), rest);
    assert.match(rest, /"data":"two\\n"/);
    assert.match(rest, /"type":"exit"/);
    if (stack.containers) {
      t.diagnostic('the container agent runs with its image\'s heartbeat (15 s): no comment is expected in 2 s');
    } else {
      assert.ok(rest.split(': keep-alive').length - 1 >= 3, `keep-alive comments while quiet for ${Date.now() - t0} ms: ${rest}`);
    }
  });

  test('kill leaves nothing of a tree whose children ignore SIGTERM; a chatty log says what it dropped; 200 are listed', async () => {
    const sandbox = fresh();
    const tree = await sandbox.startProcess(
      "(trap '' TERM; exec sleep 61) & echo $! > /workspace/pids; (trap '' TERM; exec sleep 62) & echo $! >> /workspace/pids; " +
        "echo started; trap '' TERM; wait",
      { processId: 'stubborn' },
    );
    await tree.waitForLog('started');
    const alive = 'for p in $(cat /workspace/pids); do [ -e /proc/$p ] && echo "$p"; done; true';
    assert.equal((await sandbox.exec(alive)).stdout.split('\n').length, 2);
    const t0 = Date.now();
    const ended = await tree.kill();
    assert.equal(ended.status, 'killed');
    assert.ok(Date.now() - t0 < 8000);
    assert.equal((await sandbox.exec(alive)).stdout, '', 'a child that ignored SIGTERM is still there');

    // 3 MiB through a 1 MiB log: the start fell out, and the log says how much.
    const chatty = await sandbox.startProcess("head -c 3145728 /dev/zero | tr '\\0' x", { processId: 'chatty' });
    await chatty.waitForExit(20000);
    const logs = await chatty.getLogs();
    assert.equal(logs.stdoutRange.to, 3145728);
    assert.equal(logs.stdoutRange.from, 3145728 - logs.stdout.length);
    assert.ok(logs.stdoutRange.from >= 2 * 1048576, JSON.stringify(logs.stdoutRange));
    const events = [];
    for await (const event of chatty.streamLogs()) {
      events.push(event.type === 'stdout' ? 'stdout' : `${event.type}:${event.dropped ?? ''}`);
    }
    assert.equal(events[0], `dropped:${logs.stdoutRange.from}`);
    assert.equal(events.at(-1), 'exit:');

    for (let i = 0; i < 200; i++) await sandbox.startProcess('true', { processId: `p${i}` });
    const listed = await sandbox.listProcesses();
    assert.equal(listed.filter((p) => p.id.startsWith('p')).length, 200);
  });

    test('a live log whose connection breaks resumes by itself, every byte once', async (t) => {
    if (!stack.relay) return t.skip('no relay to cut between the Worker and the containers');
    const sandbox = fresh();
    const proc = await sandbox.startProcess('for i in $(seq 1 40); do echo "tick $i"; sleep 0.05; done', { processId: 'ticks' });
    let text = '';
    let events = 0;
    for await (const event of proc.streamLogs()) {
      if (event.type === 'stdout') text += event.data;
      if (++events === 5) stack.relay.cut();
    }
    assert.equal(text, Array.from({ length: 40 }, (_, i) => `tick ${i + 1}\n`).join(''));
    const opened = stack.relay.seen.filter((s) => s.url.startsWith('/v1/processes/ticks/stream')).map((s) => s.url);
    assert.ok(opened.length >= 2, `the stream was not opened again: ${opened}`);
    assert.ok(opened.slice(1).every((url) => /from=[1-9]/.test(url)), `resumed from an offset: ${opened}`);
  });

  test('waits fail clearly, and every process goes with the sandbox', async () => {
    const sandbox = fresh();
    const short = await sandbox.startProcess('exit 4');
    await assert.rejects(short.waitForLog('never'), (e) => e instanceof SandboxError && e.code === 'PROCESS_EXITED' && /exit code 4/.test(e.message));
    const quiet = await sandbox.startProcess('sleep 60', { processId: 'quiet' });
    await assert.rejects(quiet.waitForLog('never', { timeout: 200 }), { code: 'WAIT_TIMED_OUT', status: 408 });
    await assert.rejects(sandbox.startProcess('true', { processId: 'quiet' }), { code: 'PROCESS_ALREADY_EXISTS', status: 409 });
    assert.equal(await sandbox.killAllProcesses(), 1);
    assert.equal(await quiet.getStatus(), 'killed');
    await sandbox.startProcess('sleep 60', { processId: 'left' });
    await sandbox.destroy();
    assert.equal(await sandbox.getProcess('left'), null, 'a destroyed sandbox has no processes');
  });
});
