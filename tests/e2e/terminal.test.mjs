// Terminals through the whole path: a WebSocket upgrade of `GET /v1/sandboxes/{id}/pty` with the bearer token goes
// through the Worker and the Durable Object to the agent (or the container), and a reattach by `ptyId` replays the
// screen. Node 20 has no WebSocket client: this speaks the protocol's few frames itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { callJson, containers, openWebSocket, startStack } from './stack.mjs';

const token = 'terminal-token-654';
let stack;
let n = 0;

before(async () => {
  // A short idle end for terminals (the local stack's agent; in isolated mode, each sandbox's own gets it too).
  stack = await startStack({ token, agentArgs: ['--terminal-idle-ms', '3000'] });
});
after(async () => {
  await stack?.stop();
});

function connect(path, headers = { authorization: `Bearer ${token}` }) {
  return openWebSocket(stack.base, path, headers);
}

describe('terminals through the Worker', () => {
  test('a terminal opens through the Worker, runs commands, and is reattached with its screen', async () => {
    const path = `/v1/sandboxes/term-${process.pid}-${++n}/pty`;
    const ws = await connect(`${path}?cols=100&rows=30`);
    assert.equal(ws.refused, undefined, ws.body);
    const ready = await ws.text();
    assert.equal(ready.type, 'ready');
    ws.send('echo $((6*7)) $TERM; stty size\r');
    await ws.until('42 xterm-256color');
    await ws.until('30 100');
    ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }), 1);
    ws.send('stty size\r');
    await ws.until('40 120');
    ws.close();
    const again = await connect(`${path}?ptyId=${ready.ptyId}`);
    assert.deepEqual(await again.text(), ready);
    await again.until('42 xterm-256color');
    again.send('exit 3\r');
    assert.deepEqual(await again.text(), { type: 'exit', code: 3 });
  });

  test('a viewer cut off without a close frees its terminal, which then ends after the idle time', { skip: containers && "the containers' agents keep the default idle time" }, async () => {
    const sandbox = `term-${process.pid}-${++n}`;
    const ws = await connect(`/v1/sandboxes/${sandbox}/pty`);
    assert.equal((await ws.text()).type, 'ready');
    ws.drop();
    const auth = { authorization: `Bearer ${token}` };
    const t0 = Date.now();
    for (;;) {
      const list = await callJson(stack.base, 'GET', `/v1/sandboxes/${sandbox}/ptys`, undefined, auth);
      assert.equal(list.status, 200, list.text);
      if (list.json.count === 0) break;
      assert.ok(Date.now() - t0 < 15_000, `still there after 15 s: ${list.text}`);
      await new Promise((ok) => setTimeout(ok, 200));
    }
  });

  test('without the token, or with an unknown terminal, the upgrade is refused with a JSON error', async () => {
    const path = `/v1/sandboxes/term-${process.pid}-${++n}/pty`;
    const anonymous = await connect(path, {});
    assert.equal(anonymous.refused, 401);
    assert.equal(JSON.parse(anonymous.body).code, 'UNAUTHORIZED');
    const unknown = await connect(`${path}?ptyId=pty-nope`);
    assert.equal(unknown.refused, 404);
    assert.equal(JSON.parse(unknown.body).code, 'PTY_NOT_FOUND');
    // A web page cannot open a shell on the developer's machine, token or not (cross-site WebSocket hijacking).
    const fromPage = await connect(path, { authorization: `Bearer ${token}`, origin: 'https://evil.example' });
    assert.equal(fromPage.refused, 403, fromPage.body);
  });
});
