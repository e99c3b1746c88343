// Terminals through the whole path: a WebSocket upgrade of `GET /v1/sandboxes/{id}/pty` with the bearer token goes
// through the Worker and the Durable Object to the agent (or the container), and a reattach by `ptyId` replays the
// screen. Node 20 has no WebSocket client: this speaks the protocol's few frames itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { openWebSocket, startStack } from './stack.mjs';

const token = 'terminal-token-654';
let stack;
let n = 0;

before(async () => {
  stack = await startStack({ token });
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

  test('without the token, or with an unknown terminal, the upgrade is refused with a JSON error', async () => {
    const path = `/v1/sandboxes/term-${process.pid}-${++n}/pty`;
    const anonymous = await connect(path, {});
    assert.equal(anonymous.refused, 401);
    assert.equal(JSON.parse(anonymous.body).code, 'UNAUTHORIZED');
    const unknown = await connect(`${path}?ptyId=pty-nope`);
    assert.equal(unknown.refused, 404);
    assert.equal(JSON.parse(unknown.body).code, 'PTY_NOT_FOUND');
  });
});
