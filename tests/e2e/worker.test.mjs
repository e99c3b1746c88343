// End to end through the real workerd (`wrangler dev`), the Worker's Durable Objects and the real agent: the
// public API behaves as documented, sandboxes are isolated, and errors from every layer are JSON with a code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startStack } from './stack.mjs';

const token = 'e2e-token-123';
/// The one page origin this stack lets call (`SANDBOX_ALLOWED_ORIGINS`).
const allowedOrigin = 'https://console.example';
let stack;

before(async () => {
  stack = await startStack({ token, relay: true, vars: { SANDBOX_ALLOWED_ORIGINS: allowedOrigin } });
});
after(async () => {
  await stack?.stop();
});

async function call(method, path, body, headers = {}) {
  const jsonType = body === undefined ? {} : { 'content-type': 'application/json' };
  const res = await fetch(stack.base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...jsonType, ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
}

/** A GET with a `Host` of our choosing (fetch does not let a caller set it). */
async function rawGet(path, host) {
  const { request } = await import('node:http');
  const url = new URL(stack.base);
  return new Promise((ok, fail) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers: { host, authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => ok({ status: res.statusCode, text }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('access and validation', () => {
  test('every request needs the bearer token when one is set', async () => {
    for (const headers of [{ authorization: '' }, { authorization: 'Bearer wrong' }, { authorization: token }]) {
      const r = await call('POST', '/v1/sandboxes/box/exec', { command: 'true' }, headers);
      assert.equal(r.status, 401);
      assert.equal(r.json.code, 'UNAUTHORIZED');
    }
  });

  test('the token is checked before anything else: no route, status or method shows without it', async () => {
    for (const [method, path] of [['GET', '/nope'], ['DELETE', '/v1/health'], ['POST', '/v1/sandboxes/-bad/exec'], ['PUT', '/v1/sandboxes/box'], ['GET', '/v1/_test/panic']]) {
      const r = await call(method, path, undefined, { authorization: '' });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.equal(r.json.code, 'UNAUTHORIZED');
    }
  });

  test("nothing of the caller's credentials or other headers reaches the agent", async (t) => {
    if (!stack.relay) return t.skip('no relay between the Worker and the containers (the same code forwards in both modes)');
    const marker = `marker-${Date.now()}`;
    const r = await call('POST', '/v1/sandboxes/creds/exec', { command: `echo ${marker}` }, {
      cookie: 'session=caller-cookie', 'x-api-key': 'caller-key', 'cf-access-jwt-assertion': 'jwt', 'x-forwarded-for': '1.2.3.4',
    });
    assert.equal(r.json.stdout, marker);
    const sent = stack.relay.seen.filter((s) => s.url === '/v1/exec');
    assert.ok(sent.length > 0, 'the call went through the relay');
    // (`cf-worker` is workerd's own mark on every subrequest: the Worker's zone, no caller's data.)
    const allowed = new Set(['content-type', 'content-length', 'accept', 'last-event-id', 'x-sandbox-id', 'host', 'connection', 'transfer-encoding', 'accept-encoding', 'user-agent', 'cf-worker', 'x-agent-boot-expected', 'x-sandbox-agent-token', 'x-request-id']);
    for (const { headers } of stack.relay.seen) {
      for (const name of Object.keys(headers)) assert.ok(allowed.has(name), `header ${name} reached the agent`);
      const all = JSON.stringify(headers);
      for (const secret of [token, 'caller-cookie', 'caller-key', 'jwt', '1.2.3.4']) assert.ok(!all.includes(secret), `${secret} reached the agent`);
    }
  });

  test('requests a web page could send are refused: foreign origins, non-JSON bodies, rebound host names', async () => {
    const exec = JSON.stringify({ command: 'echo from-a-page > /workspace/pwned' });
    let r = await call('POST', '/v1/sandboxes/web/exec', exec, { origin: 'https://evil.example', 'content-type': 'text/plain' });
    assert.deepEqual([r.status, r.json.code], [403, 'CROSS_SITE_REFUSED']);
    r = await call('POST', '/v1/sandboxes/web/exec', exec, { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' });
    assert.deepEqual([r.status, r.json.code], [403, 'CROSS_SITE_REFUSED']);
    r = await call('POST', '/v1/sandboxes/web/exec', exec, { 'content-type': 'text/plain;charset=UTF-8' });
    assert.deepEqual([r.status, r.json.code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
    r = await call('POST', '/v1/sandboxes/web/exec', exec, { 'content-type': '' });
    assert.deepEqual([r.status, r.json.code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
    r = await rawGet('/v1/sandboxes/web/sessions', 'rebind.evil.example:8787');
    assert.equal(r.status, 403, r.text);
    assert.equal(JSON.parse(r.text).code, 'CROSS_SITE_REFUSED');
    r = await rawGet('/v1/sandboxes/web/sessions', 'localhost');
    assert.equal(r.status, 200, r.text);
    const exists = await call('POST', '/v1/sandboxes/web/files/exists', { path: '/workspace/pwned' });
    assert.equal(exists.json.exists, false);
  });

  test("an allowed origin's page can call as a browser does: its preflight answered before the token, its answers readable", async () => {
    const preflight = (origin) => fetch(`${stack.base}/v1/sandboxes/cors/exec`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    const ok = await preflight(allowedOrigin);
    assert.equal(ok.status, 204, await ok.text());
    assert.equal(ok.headers.get('access-control-allow-origin'), allowedOrigin);
    assert.match(ok.headers.get('access-control-allow-headers'), /authorization/);
    assert.match(ok.headers.get('access-control-allow-methods'), /POST/);
    // Any other origin learns nothing without the token, as before.
    const foreign = await preflight('https://evil.example');
    assert.equal(foreign.status, 401);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    // The page's call itself, with the token, and a refusal without it: both readable by the page.
    const r = await call('POST', '/v1/sandboxes/cors/exec', { command: 'echo from-the-console' }, { origin: allowedOrigin });
    assert.deepEqual([r.status, r.json.stdout], [200, 'from-the-console']);
    assert.equal(r.headers.get('access-control-allow-origin'), allowedOrigin);
    assert.match(r.headers.get('access-control-expose-headers'), /x-request-id/);
    const noToken = await fetch(`${stack.base}/v1/sandboxes/cors/exec`, { method: 'POST', headers: { origin: allowedOrigin, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(noToken.status, 401);
    assert.equal(noToken.headers.get('access-control-allow-origin'), allowedOrigin);
  });

  test('session ids a URL would rewrite or that are percent-encoded never reach the object', async () => {
    await call('POST', '/v1/sandboxes/dots/sessions', { id: 's1', env: { SECRET: 'old' } });
    await call('POST', '/v1/sandboxes/dots/files/write', { path: '/workspace/kept', content: 'kept' });
    for (const path of ['/v1/sandboxes/dots/sessions/%2e%2e', '/v1/sandboxes/dots/sessions/s%31', '/v1/sandboxes/dots/']) {
      const r = await call('DELETE', path);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
    }
    const r = await call('POST', '/v1/sandboxes/dots/sessions', { id: '..' });
    assert.equal(r.status, 400);
    const kept = await call('POST', '/v1/sandboxes/dots/files/exists', { path: '/workspace/kept' });
    assert.equal(kept.json.exists, true, 'the sandbox was not destroyed');
    assert.equal((await call('GET', '/v1/sandboxes/dots/sessions/s1')).status, 200, 'the session is still there');
  });

  test('invalid sandbox ids are refused before any object is touched', async () => {
    for (const id of ['-bad', 'under_score', 'a'.repeat(64)]) {
      const r = await call('POST', `/v1/sandboxes/${id}/exec`, { command: 'true' });
      assert.equal(r.status, 400, id);
      assert.equal(r.json.code, 'VALIDATION_FAILED');
    }
  });

  test('a panic inside the Worker is answered as JSON, and the next call is served', async () => {
    const r = await call('GET', '/v1/_test/panic');
    assert.equal(r.status, 500);
    assert.equal(r.json?.code, 'INTERNAL_ERROR', r.text);
    const next = await call('POST', '/v1/sandboxes/after-panic/exec', { command: 'echo alive' });
    assert.equal(next.json.stdout, 'alive');
  });

  test('unknown routes are JSON 404s', async () => {
    const r = await call('GET', '/nope');
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'NOT_FOUND');
  });

  test("the agent's errors reach the caller with their code and status", async () => {
    let r = await call('POST', '/v1/sandboxes/errs/exec', '{not json');
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'INVALID_JSON');
    r = await call('POST', '/v1/sandboxes/errs/exec', { command: 'true', sessionId: 'missing' });
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'SESSION_NOT_FOUND');
  });

  test('one request id from the caller to the shell: echoed, in every error body, made up when missing or odd', async () => {
    const ok = await call('POST', '/v1/sandboxes/traced/exec', { command: 'true' }, { 'x-request-id': 'call-7.a:b' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('x-request-id'), 'call-7.a:b', 'the agent saw the caller\'s id and returned it');
    const agentError = await call('POST', '/v1/sandboxes/traced/exec', { command: 'true', sessionId: 'missing' }, { 'x-request-id': 'call-8' });
    assert.deepEqual([agentError.status, agentError.json.requestId], [404, 'call-8']);
    const workerError = await call('POST', '/v1/sandboxes/Not_Valid/exec', { command: 'true' }, { 'x-request-id': 'call-9' });
    assert.deepEqual([workerError.status, workerError.json.requestId], [400, 'call-9']);
    assert.equal(workerError.headers.get('x-request-id'), 'call-9');
    const odd = await call('POST', '/v1/sandboxes/traced/exec', { command: 'true', sessionId: 'missing' }, { 'x-request-id': 'has spaces' });
    assert.match(odd.json.requestId, /^req-[0-9a-f]{16}$/, 'an id that is not plain is replaced, not logged');
    const none = await call('POST', '/v1/sandboxes/Not_Valid/exec', { command: 'true' });
    assert.match(none.json.requestId, /^req-[0-9a-f]{16}$/);
  });
});

describe('the docs page', () => {
  test('a session with custom environment and cwd', async () => {
    const created = await call('POST', '/v1/sandboxes/my-sandbox/sessions', {
      name: 'data-analysis',
      env: { API_KEY: 'secret-key', DEBUG: 'true' },
      cwd: '/workspace/analysis',
    });
    assert.equal(created.status, 201);
    const id = created.json.id;
    const result = await call('POST', '/v1/sandboxes/my-sandbox/exec', { command: 'echo $API_KEY', sessionId: id });
    assert.equal(result.json.stdout, 'secret-key');
    assert.equal(result.json.success, true);
    const files = await call('POST', '/v1/sandboxes/my-sandbox/files/list', { path: '.', sessionId: id });
    assert.equal(files.status, 200);
    assert.equal(files.json.path, '/workspace/analysis');
  });

  test('two isolated user sessions', async () => {
    for (const [id, user] of [['user-1', '1'], ['user-2', '2']]) {
      const r = await call('POST', '/v1/sandboxes/users/sessions', { id, env: { USER_ID: user }, cwd: `/workspace/user${user}` });
      assert.equal(r.status, 201);
    }
    await call('POST', '/v1/sandboxes/users/exec', { command: 'export TOKEN=abc123', sessionId: 'user-1' });
    await call('POST', '/v1/sandboxes/users/exec', { command: 'export TOKEN=xyz789', sessionId: 'user-2' });
    const one = await call('POST', '/v1/sandboxes/users/exec', { command: 'echo $TOKEN', sessionId: 'user-1' });
    const two = await call('POST', '/v1/sandboxes/users/exec', { command: 'echo $TOKEN', sessionId: 'user-2' });
    assert.equal(one.json.stdout, 'abc123');
    assert.equal(two.json.stdout, 'xyz789');
  });

  test('a session with cleanup', async () => {
    const s = await call('POST', '/v1/sandboxes/cleanup/sessions', { name: 'temp-work', cwd: '/tmp/session' });
    assert.equal(s.status, 201);
    assert.equal((await call('POST', '/v1/sandboxes/cleanup/exec', { command: 'true', sessionId: s.json.id })).status, 200);
    assert.equal((await call('DELETE', `/v1/sandboxes/cleanup/sessions/${s.json.id}`)).status, 200);
    const gone = await call('POST', '/v1/sandboxes/cleanup/exec', { command: 'true', sessionId: s.json.id });
    assert.equal(gone.status, 404);
    assert.equal(gone.json.code, 'SESSION_NOT_FOUND');
  });

  test('calls without a session use the default session', async () => {
    await call('POST', '/v1/sandboxes/dflt/exec', { command: 'export SEEN=yes' });
    const r = await call('POST', '/v1/sandboxes/dflt/exec', { command: 'echo $SEEN' });
    assert.equal(r.json.stdout, 'yes');
    assert.equal(r.json.sessionId, 'default');
  });
});

describe('sandboxes', () => {
  test('two sandboxes do not see each other', async () => {
    await call('POST', '/v1/sandboxes/iso-a/files/write', { path: '/workspace/only-a.txt', content: 'a' });
    await call('POST', '/v1/sandboxes/iso-a/sessions', { id: 'mine' });
    const b = await call('POST', '/v1/sandboxes/iso-b/files/exists', { path: '/workspace/only-a.txt' });
    assert.equal(b.json.exists, false);
    const sessions = await call('GET', '/v1/sandboxes/iso-b/sessions');
    assert.deepEqual(sessions.json.sessions.map((s) => s.id), []);
  });

  test('concurrent first calls to a new sandbox share one default session', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => call('POST', '/v1/sandboxes/rush/exec', { command: 'echo $$' })),
    );
    for (const r of results) assert.equal(r.status, 200, r.text);
    assert.equal(new Set(results.map((r) => r.json.stdout)).size, 1);
    assert.equal((await call('GET', '/v1/sandboxes/rush/sessions')).json.count, 1);
  });

  test("exec results through the Worker equal the agent's own", async () => {
    const body = { command: "printf 'out\\n'; printf 'err' >&2; exit 3" };
    const viaWorker = await call('POST', '/v1/sandboxes/same/exec', body);
    const direct = await stack.agentCall('same', '/v1/exec', body);
    const agent = JSON.parse(direct.text);
    assert.equal(viaWorker.status, direct.status);
    // Each command gets an id of its own (`cmd-` and 16 hex digits).
    const strip = ({ timestamp, duration, commandId, ...rest }) => (assert.match(commandId, /^cmd-[0-9a-f]{16}$/), rest);
    assert.deepEqual(strip(viaWorker.json), strip(agent));
    assert.equal(agent.stdout, 'out');
    assert.equal(agent.exitCode, 3);
  });

  test("stream events through the Worker equal the agent's own", async () => {
    const body = JSON.stringify({ command: 'echo one; sleep 0.2; echo two; exit 4' });
    const read = (text) =>
      text
        .split('\n\n')
        .filter(Boolean)
        .map((e) => JSON.parse(e.replace(/^data: /, '')))
        .map(({ timestamp, result, commandId, ...rest }) => ({ ...rest, exit: result?.exitCode, id: commandId === undefined ? undefined : commandId.slice(0, 4) }));
    const viaWorker = read(
      await (await fetch(`${stack.base}/v1/sandboxes/same-stream/exec/stream`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body,
      })).text(),
    );
    const direct = read((await stack.agentCall('same-stream', '/v1/exec/stream', JSON.parse(body))).text);
    assert.deepEqual(viaWorker, direct);
    assert.deepEqual(direct.map((e) => e.type), ['start', 'stdout', 'stdout', 'complete']);
    assert.equal(direct.at(-1).exitCode, 4);
  });

  test('exec/stream passes server-sent events through', async () => {
    const res = await fetch(`${stack.base}/v1/sandboxes/streams/exec/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'echo one; echo two >&2' }),
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')));
    // stdout and stderr are separate pipes: their order relative to each other is not part of the contract.
    assert.equal(events[0].type, 'start');
    assert.equal(events.at(-1).type, 'complete');
    assert.deepEqual(events.slice(1, -1).map((e) => e.type).sort(), ['stderr', 'stdout']);
    assert.equal(events.find((e) => e.type === 'stdout').data, 'one\n');
  });

  test('status and destroy', async () => {
    await call('POST', '/v1/sandboxes/doomed/exec', { command: 'echo x > /workspace/f' });
    const status = await call('GET', '/v1/sandboxes/doomed');
    assert.equal(status.json.mode, stack.containers ? 'container' : 'local');
    const destroyed = await call('DELETE', '/v1/sandboxes/doomed');
    assert.equal(destroyed.status, 200);
    const after = await call('POST', '/v1/sandboxes/doomed/files/exists', { path: '/workspace/f' });
    assert.equal(after.json.exists, false);
    assert.equal((await call('GET', '/v1/sandboxes/doomed/sessions')).json.count, 0);
  });

  test('a restarted agent gets its known sessions back, with their options', async () => {
    const created = await call('POST', '/v1/sandboxes/phoenix/sessions', {
      id: 'keep', env: { API_KEY: 'secret-key' }, cwd: '/workspace/analysis',
    });
    assert.equal(created.status, 201);
    await stack.restartAgent();
    const r = await call('POST', '/v1/sandboxes/phoenix/exec', { command: 'echo $API_KEY; pwd', sessionId: 'keep' });
    assert.equal(r.status, 200, r.text);
    const [key, cwd] = r.json.stdout.split('\n');
    assert.equal(key, 'secret-key');
    if (stack.isolated || stack.containers) assert.equal(cwd, '/workspace/analysis');
    else assert.ok(cwd.endsWith('/phoenix/analysis'), cwd);
    assert.equal(r.headers.get('x-sandbox-sessions-recreated'), 'keep');
    const deleted = await call('DELETE', '/v1/sandboxes/phoenix/sessions/keep');
    assert.equal(deleted.status, 200);
    // The next call meets the same agent: with containers, the one Docker restarted in place is never used (workerd
    // replaces it at the next start), so sessions come back once, not on this call again.
    assert.equal(deleted.headers.get('x-sandbox-sessions-recreated'), null);
    await stack.restartAgent();
    const gone = await call('POST', '/v1/sandboxes/phoenix/exec', { command: 'true', sessionId: 'keep' });
    assert.equal(gone.status, 404);
  });

  test('variables set with setEnvVars come back with their sessions after a restart', async () => {
    await call('POST', '/v1/sandboxes/phoenix-env/sessions', { id: 'named', env: { A: 'from-options' } });
    const named = await call('POST', '/v1/sandboxes/phoenix-env/env', { envVars: { B: 'set-later' }, sessionId: 'named' });
    assert.equal(named.status, 200, named.text);
    const plain = await call('POST', '/v1/sandboxes/phoenix-env/env', { envVars: { C: 'on-default' } });
    assert.equal(plain.json.sessionId, 'default');
    await stack.restartAgent();
    const r = await call('POST', '/v1/sandboxes/phoenix-env/exec', { command: 'echo $A $B', sessionId: 'named' });
    assert.equal(r.json.stdout, 'from-options set-later', r.text);
    const d = await call('POST', '/v1/sandboxes/phoenix-env/exec', { command: 'echo $C' });
    assert.equal(d.json.stdout, 'on-default', d.text);
  });

  test('after a restart, every first call finds its sessions and their variables, even many at once', async () => {
    await call('POST', '/v1/sandboxes/phoenix-rush/sessions', { id: 'named', env: { A: 'from-options' } });
    await call('POST', '/v1/sandboxes/phoenix-rush/env', { envVars: { C: 'on-default' } });
    await call('POST', '/v1/sandboxes/phoenix-rush/env', { envVars: { B: 'set-later' }, sessionId: 'named' });
    await stack.restartAgent();
    const calls = await Promise.all([
      call('POST', '/v1/sandboxes/phoenix-rush/exec', { command: 'echo $C' }),
      call('POST', '/v1/sandboxes/phoenix-rush/exec', { command: 'echo $C' }),
      call('POST', '/v1/sandboxes/phoenix-rush/exec', { command: 'echo $A $B', sessionId: 'named' }),
      call('POST', '/v1/sandboxes/phoenix-rush/exec', { command: 'echo $A $B', sessionId: 'named' }),
    ]);
    for (const r of calls) assert.equal(r.status, 200, r.text);
    assert.deepEqual(calls.map((r) => r.json.stdout), ['on-default', 'on-default', 'from-options set-later', 'from-options set-later']);
  });

  test('options and variables too large to remember are refused before the agent makes anything', async () => {
    const big = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'x'.repeat(120_000)]));
    const created = await call('POST', '/v1/sandboxes/roomy/sessions', { id: 'full', env: big(7) });
    assert.equal(created.status, 201, created.text);
    const more = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`NEW${i}`, 'y'.repeat(100_000)]));
    const r = await call('POST', '/v1/sandboxes/roomy/env', { envVars: more, sessionId: 'full' });
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json.code, 'BODY_TOO_LARGE');
    assert.doesNotMatch(r.text, /sqlite|SQLITE|storage engine/i);
    const seen = await call('POST', '/v1/sandboxes/roomy/exec', { command: 'echo ${#NEW0} ${#V6}', sessionId: 'full' });
    assert.equal(seen.json.stdout, '0 120000', 'the variables were not applied');
    const tooBig = await call('POST', '/v1/sandboxes/roomy/sessions', { id: 'huge', name: 'n'.repeat(1_100_000) });
    assert.equal(tooBig.status, 413, tooBig.text);
    assert.equal((await call('GET', '/v1/sandboxes/roomy/sessions/huge')).status, 404, 'nothing was made');
  });

  test('the status counts calls in flight, streams included, until they end', async () => {
    const res = await fetch(`${stack.base}/v1/sandboxes/busy/exec/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'echo started; sleep 1; echo done' }),
    });
    const reader = res.body.getReader();
    await reader.read();
    const during = await call('GET', '/v1/sandboxes/busy');
    assert.equal(during.json.inFlight, 1, during.text);
    while (!(await reader.read()).done);
    let after;
    for (let i = 0; i < 50; i++) {
      after = await call('GET', '/v1/sandboxes/busy');
      if (after.json.inFlight === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(after.json.inFlight, 0, after.text);
  });

  test("code in a local sandbox cannot drive the local agent (nor, through it, another sandbox)", async (t) => {
    if (stack.containers) return t.skip('no host agent: each container has its own (tests/containers: isolation)');
    await call('POST', '/v1/sandboxes/victim/files/write', { path: '/workspace/secret.txt', content: 'victim-only' });
    const port = stack.agent.port;
    const attack = `curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:${port}/v1/files/read `
      + `-H 'x-sandbox-id: victim' -H 'content-type: application/json' -d '{"path":"/workspace/secret.txt"}'`;
    const r = await call('POST', '/v1/sandboxes/attacker/exec', { command: attack });
    // A jail's loopback is its own: the agent is not even reached. Unconfined, its token refuses the call.
    assert.equal(r.json.stdout, stack.isolated ? '000' : '401', r.text);
  });

  test('reads and statuses of local sandboxes that never ran start none: lists come back empty, not running, no folder', async (t) => {
    if (stack.containers) return t.skip('a container per sandbox: a read starts it, as deployed');
    for (let n = 0; n < 5; n++) {
      const id = `ghost-${process.pid}-${n}`;
      const processes = await call('GET', `/v1/sandboxes/${id}/processes`);
      assert.deepEqual([processes.status, processes.json.processes], [200, []], processes.text);
      const sessions = await call('GET', `/v1/sandboxes/${id}/sessions`);
      assert.deepEqual([sessions.status, sessions.json.sessions], [200, []], sessions.text);
      // Its status says it is not running, and makes nothing either.
      const status = await call('GET', `/v1/sandboxes/${id}`);
      assert.deepEqual([status.status, status.json.running, status.json.agent ?? null], [200, false, null], status.text);
      assert.equal(existsSync(join(stack.dir, 'sandboxes', id)), false, `${id} was started by a read`);
    }
    // A command starts one, and its reads are then its agent's.
    const id = `ghost-${process.pid}-run`;
    assert.equal((await call('POST', `/v1/sandboxes/${id}/exec`, { command: 'true' })).status, 200);
    assert.equal(existsSync(join(stack.dir, 'sandboxes', id)), true);
    assert.equal((await call('GET', `/v1/sandboxes/${id}/processes`)).status, 200);
  });

  test("nothing that listens on this machine's loopback is reachable from a local sandbox", async (t) => {
    if (stack.containers) return t.skip('no local jail: containers have a network of their own');
    if (!stack.isolated) return t.skip('bubblewrap cannot make namespaces here: the local stack is unconfined');
    // Every TCP socket listening on 127.0.0.1 now: the Worker, wrangler's own, the agent, this test's own.
    const listening = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[3] === '0A' && f[1]?.startsWith('0100007F:'))
      .map((f) => parseInt(f[1].split(':')[1], 16));
    const { port: worker } = new URL(stack.base);
    assert.ok(listening.includes(Number(worker)) && listening.includes(stack.agent.port), `${listening}`);
    const probes = [...new Set(listening)].flatMap((p) => [`127.0.0.1 ${p}`, `10.0.2.2 ${p}`]);
    const command = `for t in ${probes.map((p) => `'${p}'`).join(' ')}; do set -- $t; `
      + `timeout 3 bash -c "echo > /dev/tcp/$1/$2" 2>/dev/null && echo "reached $1:$2"; done; echo done`;
    const r = await call('POST', '/v1/sandboxes/prober/exec', { command, timeout: 120000 });
    assert.equal(r.json.stdout, 'done', r.text);
  });

  test('a local sandbox sees what a container would: /workspace, its own files and processes only', async (t) => {
    if (!stack.isolated && !stack.containers) {
      return t.skip('bubblewrap cannot make namespaces here: the local stack is unconfined');
    }
    await call('POST', '/v1/sandboxes/jail-a/files/write', { path: '/workspace/secret.txt', content: 'a-only' });
    const a = await call('POST', '/v1/sandboxes/jail-a/exec', { command: 'pwd; cat secret.txt' });
    assert.equal(a.json.stdout, '/workspace\na-only');
    const b = await call('POST', '/v1/sandboxes/jail-b/exec', {
      command: 'ls /workspace; find / -name secret.txt 2>/dev/null | wc -l; ls /proc | grep -c "^[0-9]"',
    });
    const [count, procs] = b.json.stdout.split('\n').slice(-2);
    assert.equal(count, '0', b.text);
    assert.ok(Number(procs) < 10, `jail-b sees ${procs} processes`);
    const escape = await call('POST', '/v1/sandboxes/jail-b/files/read', { path: '/workspace/../jail-a/secret.txt' });
    assert.equal(escape.status, 404, escape.text);
  });

  test('an unreachable agent is 503 CONTAINER_UNAVAILABLE with Retry-After', async (t) => {
    if (stack.containers) return t.skip('the host agent is not there to stop (tests/containers: an agent that cannot start)');
    await stack.agent.stop();
    const r = await call('POST', '/v1/sandboxes/down/exec', { command: 'true' });
    assert.equal(r.status, 503);
    assert.equal(r.json.code, 'CONTAINER_UNAVAILABLE');
    assert.ok(r.headers.get('retry-after'));
  });
});
