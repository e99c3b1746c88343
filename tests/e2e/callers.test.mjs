// The caller Workers of examples/ (JavaScript and Rust), each under its own `wrangler dev`, reaching the sandbox
// Worker through a service binding named SANDBOX (connected through the dev registry): the createSession docs
// page, example by example, through both, and a dev server opened at its preview URL; and every method of the Rust
// client through the Rust caller.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';

import { getSandbox } from 'sandbox-rs';
import { openWebSocket, startStack } from './stack.mjs';

let stack;
const callers = new Map();

/// The base URL of the caller Worker `name`, started on first use.
function caller(name) {
  if (!callers.has(name)) callers.set(name, stack.startCaller(name));
  return callers.get(name);
}

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

/// GETs a preview URL as a browser does: the Worker's loopback address, the URL's host in `Host`.
function browse(url) {
  const { host, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: new URL(stack.base).port, path: pathname, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function run(base, example) {
  const res = await fetch(`${base}/examples/${example}`, { method: 'POST' });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/// Each caller's examples use a sandbox of their own, so that both can run side by side.
const EXAMPLE_SANDBOX = { 'js-caller': 'my-sandbox', 'rust-caller': 'my-rust-sandbox' };

for (const name of ['js-caller', 'rust-caller']) {
  describe(`the docs' createSession examples through ${name}`, () => {
    let base;
    const id = EXAMPLE_SANDBOX[name];
    const sandbox = () => getSandbox({ url: stack.base }, id);

    before(async () => {
      base = await caller(name);
      // Each caller's run starts from a clean sandbox.
      await sandbox().destroy();
    });

    test('a session with custom environment: echo $API_KEY is "secret-key", listFiles(".") lists /workspace/analysis', async () => {
      await sandbox().writeFile('/workspace/analysis/data.csv', 'a,b\n1,2\n');
      const { stdout, files } = await run(base, 'custom-environment');
      assert.equal(stdout, 'secret-key');
      assert.equal(files.path, '/workspace/analysis');
      assert.deepEqual(files.files.map((f) => [f.name, f.absolutePath, f.type]), [['data.csv', '/workspace/analysis/data.csv', 'file']]);
    });

    test('multiple isolated sessions: each sees its own TOKEN, and the example runs again', async () => {
      for (const round of [1, 2]) {
        const { result1, result2, sessions } = await run(base, 'isolated-sessions');
        assert.deepEqual([result1, result2], ['abc123', 'xyz789'], `round ${round}`);
        assert.deepEqual(sessions.sort(), [['user-1', '/workspace/user1'], ['user-2', '/workspace/user2']]);
      }
      const left = (await sandbox().listSessions()).sessions.filter((s) => s.id.startsWith('user-'));
      assert.deepEqual(left, [], 'the example ends its sessions');
    });

    test('a session with cleanup: npm install and npm test run; after deleteSession its calls fail with SESSION_NOT_FOUND', async () => {
      // The project the docs' example works on (offline: no registry is reached).
      await sandbox().writeFile('/tmp/session/package.json', JSON.stringify({ name: 'work', version: '1.0.0', scripts: { test: 'echo tests pass' } }));
      await sandbox().writeFile('/tmp/session/.npmrc', 'offline=true\naudit=false\nfund=false\n');
      const { sessionId, after, npm, tested } = await run(base, 'session-cleanup');
      // npm is in the image as it is on the host a local sandbox sees (/usr): the docs' code works deployed too.
      assert.deepEqual(npm, [0, 0], tested);
      assert.match(tested, /tests pass/);
      assert.deepEqual(after, { code: 'SESSION_NOT_FOUND', status: 404 });
      await assert.rejects(sandbox().getSession(sessionId), { code: 'SESSION_NOT_FOUND' });
    });

    test('non-session calls use the default session, isolated from the others, on one filesystem', async () => {
      const r = await run(base, 'default-session');
      assert.deepEqual(r, { inDefault: 'yes unset', inDefaultSession: 'default', inSession: 'unset yes', shared: 'one filesystem' });
    });

    test('a dev server started in the background answers at its preview URL, and the example runs again', async () => {
      const first = await run(base, 'dev-server');
      assert.equal(first.status, 'running');
      const { port: devPort } = new URL(stack.base);
      assert.match(first.url, new RegExp(`^http://${first.port}-${id}-[a-z0-9]{16}\\.localhost:${devPort}/$`));
      assert.deepEqual(await browse(first.url), { status: 200, body: '<h1>Hello from the sandbox</h1>' });
      // Again while it runs: the same server, at the same URL.
      assert.deepEqual(await run(base, 'dev-server'), first);
      // Again after it ended: a new server under the same process id.
      await sandbox().killProcess('dev-server');
      const third = await run(base, 'dev-server');
      assert.equal(third.status, 'running');
      assert.deepEqual(await browse(third.url), { status: 200, body: '<h1>Hello from the sandbox</h1>' });
      await sandbox().killProcess('dev-server');
    });
  });
}

/// Opens terminals through the caller at `base` as web pages would: another site's page, a `null` origin and a
/// DNS-rebinding page (its own host name, resolved to this machine) are refused with 403 CROSS_SITE_REFUSED before
/// anything reaches the sandbox; the caller's own page gets its terminal.
async function onlyOwnPagesOpenTerminals(base) {
  const { host, port } = new URL(base);
  const refusals = [
    ['another site', { origin: 'https://evil.example' }],
    ['a null origin', { origin: 'null' }],
    ['a same-origin page on a rebound name', { origin: `http://rebind.evil.example:${port}`, host: `rebind.evil.example:${port}` }],
  ];
  for (const [who, headers] of refusals) {
    const ws = await openWebSocket(base, '/terminal', headers);
    assert.equal(ws.refused, 403, `${who}: ${ws.body}`);
    assert.equal(JSON.parse(ws.body).code, 'CROSS_SITE_REFUSED', who);
  }
  const own = await openWebSocket(base, '/terminal', { origin: `http://${host}` });
  assert.equal(own.refused, undefined, own.body);
  assert.equal((await own.text()).type, 'ready');
  own.close();
}

describe('a terminal through js-caller', () => {
  test("sandbox.terminal(request) hands the browser's WebSocket through to a terminal", async () => {
    const base = await caller('js-caller');
    const ws = await openWebSocket(base, '/terminal?cols=90&rows=20');
    assert.equal(ws.refused, undefined, ws.body);
    const ready = await ws.text();
    assert.equal(ready.type, 'ready');
    ws.send('echo $((7*6)) from the caller; stty size\r');
    await ws.until('42 from the caller');
    await ws.until('20 90');
    ws.close();
    assert.deepEqual(await run(base, 'terminal-command'), { answered: true }, 'openTerminal: a socket of the Worker its own');
    const plain = await fetch(`${base}/terminal`);
    assert.equal(plain.status, 400);
    assert.equal((await plain.json()).code, 'VALIDATION_FAILED');
  });

  test("a terminal opens from the caller's own page only, which it serves with xterm.js", async () => {
    const base = await caller('js-caller');
    await onlyOwnPagesOpenTerminals(base);
    const page = await fetch(`${base}/terminal.html`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/terminal.js">/);
    for (const asset of ['/terminal.js', '/vendor/xterm.mjs', '/vendor/addon-fit.mjs', '/vendor/xterm.css']) {
      const res = await fetch(`${base}${asset}`);
      assert.equal(res.status, 200, asset);
      await res.arrayBuffer();
    }
  });
});

describe('a terminal through rust-caller', () => {
  test('terminal(&request) hands the WebSocket through; open_terminal gives the Worker its own; errors come first', async () => {
    const base = await caller('rust-caller');
    const ws = await openWebSocket(base, '/terminal?cols=100&rows=30');
    assert.equal(ws.refused, undefined, ws.body);
    assert.equal((await ws.text()).type, 'ready');
    ws.send('echo $((7*6)) via rust; stty size\r');
    await ws.until('42 via rust');
    await ws.until('30 100');
    ws.close();
    assert.deepEqual(await run(base, 'terminal-command'), { answered: true, ready: 'ready' });
    const unknown = await openWebSocket(base, '/terminal?ptyId=pty-none');
    assert.equal(unknown.refused, 404, unknown.body);
    assert.equal(JSON.parse(unknown.body).code, 'PTY_NOT_FOUND');
    const tooWide = await openWebSocket(base, '/terminal?cols=5000');
    assert.equal(tooWide.refused, 400, tooWide.body);
    assert.equal(JSON.parse(tooWide.body).code, 'VALIDATION_FAILED');
    const plain = await fetch(`${base}/terminal`);
    assert.equal(plain.status, 400);
    assert.equal((await plain.json()).code, 'VALIDATION_FAILED');
  });

  test("a terminal opens from the caller's own page only", async () => {
    await onlyOwnPagesOpenTerminals(await caller('rust-caller'));
  });

  test("the README's Rust snippet runs as written in a handler returning worker::Result", async () => {
    const res = await fetch(`${await caller('rust-caller')}/readme`, { method: 'POST' });
    assert.equal(res.status, 200, await res.clone().text());
    // (`my-sandbox` is the examples' shared sandbox: what /workspace/analysis holds depends on what ran before.)
    const answer = await res.json();
    assert.equal(answer.exitCode, 0);
    assert.equal(typeof answer.files, 'number');
  });
});

describe('the Rust client, every method, through rust-caller', () => {
  test('commands, streams, cancel, variables, sessions, files, errors and the sandbox', async () => {
    const res = await fetch(`${await caller('rust-caller')}/tour`, { method: 'POST' });
    const t = await res.json();
    assert.equal(res.status, 200, JSON.stringify(t));
    assert.deepEqual([t.plain.stdout, t.plain.stderr, t.plain.exitCode, t.plain.success, t.plain.sessionId], ['a\nb', 'err', 3, false, 'default']);
    assert.equal(t.scoped, "it's $literal\nsub");
    assert.deepEqual(t.timedOut, [true, 124]);
    assert.equal(t.ended, 'timedOut', 'the Rust client reads how the command ended');
    assert.equal(t.bytes, 'AP8=');
    const { kinds, exitCode } = t.streamed;
    // stdout and stderr are separate pipes: their events may come in either order.
    assert.deepEqual([kinds[0], kinds.slice(1, -1).sort(), kinds.at(-1), exitCode], ['start', ['stderr', 'stdout'], 'complete', 0]);
    assert.deepEqual(t.cancelled, { first: 'start', cancelled: true, exitCode: 130 });
    assert.equal(t.afterDrop, 'stopped', 'dropping an exec_stream stopped its command');
    assert.deepEqual(t.givenUp, { listed: ['running', 'queued'], after: 'never' }, 'a dropped exec future cancels its queued command');
    assert.deepEqual(t.binary, { same: true, size: '256' }, 'write_file_bytes / read_file_bytes: every byte value');
    assert.deepEqual(t.streamedFile, { written: 3 << 20, read: 2 << 20, sum: 3 << 20 }, 'write_file_stream through the binding, read_file_stream from an offset');
    assert.deepEqual(t.env, ['on', 'unset']);
    assert.deepEqual(t.session, { id: 'tour', cwd: '/workspace/t', historyTotal: 1, listed: true });
    assert.deepEqual(t.terminals, { listed: 1, attached: 1, killed: true, again: { code: 'PTY_NOT_FOUND', status: 404 }, left: 0 });
    assert.deepEqual(t.duplicate, { code: 'SESSION_ALREADY_EXISTS', status: 409 });
    assert.deepEqual(t.afterDelete, { code: 'SESSION_NOT_FOUND', status: 404 });
    assert.deepEqual(t.files, { read: 'hello', renamed: '/workspace/d/b.txt', exists: true, paths: ['d', 'sub', 't', 'x', 'x/y', 'x/y/b.txt'] });
    assert.deepEqual(t.missing, { code: 'FILE_NOT_FOUND', status: 404 });
    assert.deepEqual([t.status.id, t.status.mode, t.status.running], ['rust-tour', stack.containers ? 'container' : 'local', true]);
    assert.deepEqual(t.invalid, { code: 'VALIDATION_FAILED', status: 400 });
    assert.equal(t.destroyed, true);
  });
});
