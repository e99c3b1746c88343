// Terminals through the whole path: a WebSocket upgrade of `GET /v1/sandboxes/{id}/pty` with the bearer token goes
// through the Worker and the Durable Object to the agent (or the container), and a reattach by `ptyId` replays the
// screen. Node 20 has no WebSocket client: this speaks the protocol's few frames itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';

import { startStack } from './stack.mjs';

const token = 'terminal-token-654';
let stack;
let n = 0;

before(async () => {
  stack = await startStack({ token });
});
after(async () => {
  await stack?.stop();
});

/// A WebSocket to `path` of the Worker: `send(bytes)` types, `text()` waits for the next control message, and
/// `until(needle)` reads the terminal's output until it holds `needle`.
function connect(path, headers = { authorization: `Bearer ${token}` }) {
  const { port } = new URL(stack.base);
  const upgrade = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: upgrade });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ refused: res.statusCode, body }));
    });
    req.on('error', reject);
    req.on('upgrade', (_res, socket, head) => {
      let buffer = Buffer.alloc(0);
      let output = Buffer.alloc(0);
      const texts = [];
      let wake = () => {};
      socket.on('data', (chunk) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (;;) {
          if (buffer.length < 2) break;
          let length = buffer[1] & 0x7f;
          let at = 2;
          if (length === 126) { if (buffer.length < 4) break; length = buffer.readUInt16BE(2); at = 4; }
          else if (length === 127) { if (buffer.length < 10) break; length = Number(buffer.readBigUInt64BE(2)); at = 10; }
          if (buffer.length < at + length) break;
          const opcode = buffer[0] & 0x0f;
          const payload = buffer.subarray(at, at + length);
          if (opcode === 1) texts.push(JSON.parse(payload.toString()));
          if (opcode === 2) output = Buffer.concat([output, payload]);
          buffer = buffer.subarray(at + length);
        }
        wake();
      });
      socket.unshift(head);
      const waitFor = (check, what) => new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no ${what} within 10 s; output: ${JSON.stringify(output.toString())}`)), 10_000);
        wake = () => { const found = check(); if (found !== undefined) { clearTimeout(timer); wake = () => {}; ok(found); } };
        wake();
      });
      resolve({
        send(text, opcode = 2) {
          const payload = Buffer.from(text);
          const mask = randomBytes(4);
          const head = payload.length < 126 ? Buffer.from([0x80 | opcode, 0x80 | payload.length]) : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
          socket.write(Buffer.concat([head, mask, payload.map((b, i) => b ^ mask[i % 4])]));
        },
        text: () => waitFor(() => texts.shift(), 'control message'),
        until: (needle) => waitFor(() => (output.includes(needle) ? output.toString() : undefined), JSON.stringify(needle)),
        close: () => socket.destroy(),
      });
    });
    req.end();
  });
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
