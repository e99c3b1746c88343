// The createSession docs page, example by example, run by caller Workers that reach the sandbox Worker through a
// service binding named SANDBOX (examples/js-caller, examples/rust-caller), each under its own `wrangler dev`,
// connected through the dev registry. The sandbox is destroyed between runs so that every run starts clean.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { getSandbox } from 'sandbox-rs';
import { startStack } from './stack.mjs';

let stack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

async function run(caller, example) {
  const res = await fetch(`${caller}/examples/${example}`, { method: 'POST' });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

for (const name of ['js-caller', 'rust-caller']) {
  describe(`the docs' createSession examples through ${name}`, () => {
    let caller;
    const sandbox = () => getSandbox({ url: stack.base }, 'my-sandbox');

    before(async () => {
      caller = await stack.startCaller(name);
      await sandbox().destroy();
    });

    test('a session with custom environment: echo $API_KEY is "secret-key", listFiles(".") lists /workspace/analysis', async () => {
      await sandbox().writeFile('/workspace/analysis/data.csv', 'a,b\n1,2\n');
      const { stdout, files } = await run(caller, 'custom-environment');
      assert.equal(stdout, 'secret-key');
      assert.equal(files.path, '/workspace/analysis');
      assert.deepEqual(files.files.map((f) => [f.name, f.absolutePath, f.type]), [['data.csv', '/workspace/analysis/data.csv', 'file']]);
    });

    test('multiple isolated sessions: each sees its own TOKEN', async () => {
      const { result1, result2 } = await run(caller, 'isolated-sessions');
      assert.equal(result1, 'abc123');
      assert.equal(result2, 'xyz789');
      const sessions = await sandbox().listSessions();
      assert.deepEqual(sessions.sessions.map((s) => [s.id, s.cwd]).filter(([id]) => id.startsWith('user-')).sort(),
        [['user-1', '/workspace/user1'], ['user-2', '/workspace/user2']]);
    });

    test('a session with cleanup: after deleteSession its calls fail with SESSION_NOT_FOUND', async () => {
      const { sessionId, after } = await run(caller, 'session-cleanup');
      assert.deepEqual(after, { code: 'SESSION_NOT_FOUND', status: 404 });
      await assert.rejects(sandbox().getSession(sessionId), { code: 'SESSION_NOT_FOUND' });
    });

    test('non-session calls use the default session, isolated from the others, on one filesystem', async () => {
      const r = await run(caller, 'default-session');
      assert.deepEqual(r, { inDefault: 'yes unset', inDefaultSession: 'default', inSession: 'unset yes', shared: 'one filesystem' });
    });
  });
}
