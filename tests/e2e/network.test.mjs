// Egress through the whole path (the JavaScript client, the Worker, the Durable Object, the host agent and its
// proxy): a policy set by a caller holds for the sandbox's code, is shown with its refusals in the status, and
// comes back to a new agent before anything of the sandbox's runs. The hosts are the test's own, on this
// machine's loopback, which a local sandbox reaches only through a rule naming the port. Where the sandbox's
// network cannot be held to a policy (containers here, an unconfined agent), one that restricts is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { getSandbox, SandboxError } from 'sandbox-rs';

import { containers, isolated, startStack } from './stack.mjs';

const token = 'network-token';
const enforced = !containers && isolated;
let stack;
const servers = [];
let n = 0;

/** An HTTP server on loopback that answers `name` to everything. */
async function service(name) {
  const server = createServer((req, res) => res.end(name));
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  servers.push(server);
  return server.address().port;
}

before(async () => {
  stack = await startStack({ token });
});
after(async () => {
  for (const server of servers) server.close();
  await stack?.stop();
});

function fresh() {
  return getSandbox({ url: stack.base, token }, `network-${process.pid}-${++n}`);
}

/** What `curl` through the sandbox's proxy got from `target`: the body, or the proxy's status. */
async function fetchIn(sandbox, target) {
  const r = await sandbox.exec(`curl -s --max-time 5 --noproxy '' -w ' %{http_code}' http://${target}/`);
  const [body, code] = [r.stdout.slice(0, r.stdout.lastIndexOf(' ')), r.stdout.slice(r.stdout.lastIndexOf(' ') + 1)];
  return code === '200' ? body : code;
}

describe('network policy', { skip: !enforced && 'egress is enforced in local jails only; see the refusal test' }, () => {
  test('a policy holds, is shown with its refusals, and is kept by the sandbox across an agent restart', async () => {
    const [a, b] = [await service('from-a'), await service('from-b')];
    const sandbox = fresh();
    const open = await sandbox.getNetworkPolicy();
    assert.equal(open.enforced, true);
    assert.deepEqual(open.policy, { internet: true });
    assert.equal(open.proxy, 'http://127.0.0.1:3128');
    // The machine's loopback is closed under the open internet.
    assert.equal(await fetchIn(sandbox, `127.0.0.1:${a}`), '403');

    const state = await sandbox.setNetworkPolicy({ allow: [`127.0.0.1:${a}`] });
    assert.deepEqual(state.policy, { internet: false, allow: [`127.0.0.1:${a}`] });
    assert.equal(await fetchIn(sandbox, `127.0.0.1:${a}`), 'from-a');
    assert.equal(await fetchIn(sandbox, `127.0.0.1:${b}`), '403');

    // The SDK's names keep the rest of the policy.
    const denied = await sandbox.setDeniedHosts(['tracker.example']);
    assert.deepEqual(denied.policy, { internet: false, allow: [`127.0.0.1:${a}`], deny: ['tracker.example'] });
    const allowed = await sandbox.setAllowedHosts([`localhost:${b}`]);
    assert.deepEqual(allowed.policy, { internet: false, allow: [`localhost:${b}`], deny: ['tracker.example'] });
    assert.equal(await fetchIn(sandbox, `localhost:${b}`), 'from-b');
    assert.equal(await fetchIn(sandbox, `127.0.0.1:${a}`), '403');

    const status = await sandbox.status();
    assert.equal(status.network.enforced, true);
    const last = status.network.recentDenials.at(-1);
    assert.equal(last.host, '127.0.0.1');
    assert.equal(last.port, a);
    assert.match(last.reason, /not allowed|own address/);

    // A new agent knows nothing of it: the sandbox gives it back before the next call runs.
    await stack.restartAgent();
    assert.equal(await fetchIn(sandbox, `localhost:${b}`), 'from-b');
    assert.equal(await fetchIn(sandbox, `127.0.0.1:${a}`), '403');
    assert.deepEqual((await sandbox.getNetworkPolicy()).policy.allow, [`localhost:${b}`]);
    await sandbox.destroy();
  });

  test('a secret reaches its host only, the sandbox sees its placeholder, and a new agent gets it back', async () => {
    const echo = (name) => {
      const server = createServer((req, res) => res.end(`${name} ${JSON.stringify(req.headers)}`));
      servers.push(server);
      return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server.address().port)));
    };
    const [its, other] = [await echo('its'), await echo('other')];
    const sandbox = fresh();
    await sandbox.setNetworkPolicy({ allow: [`127.0.0.1:${its}`, `127.0.0.1:${other}`] });
    const value = 'sk-live-e2e-71c0';
    const secret = await sandbox.setSecret('API_KEY', value, { hosts: [`127.0.0.1:${its}`], header: 'X-Api-Key', format: '{}' });
    assert.match(secret.placeholder, /^sandbox-secret-api-key-[a-z0-9]{24}$/);
    assert.deepEqual({ ...secret, placeholder: undefined }, {
      name: 'API_KEY', placeholder: undefined, hosts: [`127.0.0.1:${its}`], header: 'X-Api-Key', format: '{}',
    });
    assert.ok(!JSON.stringify(await sandbox.listSecrets()).includes(value));
    const probe = `curl -s --noproxy '' -H "X-Api-Key: ${secret.placeholder}" http://127.0.0.1:${its}/; echo; ` +
      `curl -s --noproxy '' -H "X-Api-Key: ${secret.placeholder}" http://127.0.0.1:${other}/`;
    const check = async () => {
      const [mine, theirs] = (await sandbox.exec(probe)).stdout.split('\n');
      assert.ok(mine.startsWith('its ') && JSON.parse(mine.slice(4))['x-api-key'] === value, mine);
      assert.ok(theirs.startsWith('other ') && JSON.parse(theirs.slice(6))['x-api-key'] === secret.placeholder, theirs);
    };
    await check();
    // Set again: the same placeholder.
    const again = await sandbox.setSecret('API_KEY', value, { hosts: [`127.0.0.1:${its}`], header: 'X-Api-Key', format: '{}' });
    assert.equal(again.placeholder, secret.placeholder);
    await stack.restartAgent();
    await check();
    assert.deepEqual(await sandbox.deleteSecret('API_KEY'), []);
    await assert.rejects(sandbox.deleteSecret('API_KEY'), (e) => e.code === 'SECRET_NOT_FOUND' && e.status === 404);
    await assert.rejects(sandbox.setSecret('BAD-NAME', 'v', { hosts: ['a.com'] }), (e) => e.code === 'VALIDATION_FAILED');
    await sandbox.destroy();
  });

  test('a bad policy is refused with its reason and changes nothing', async () => {
    const sandbox = fresh();
    await sandbox.setNetworkPolicy({ deny: ['evil.example'] });
    for (const bad of [{ deny: ['not a host'] }, { allow: ['10.0.0.0/99'] }, { internet: 'yes' }, { other: 1 }]) {
      await assert.rejects(sandbox.setNetworkPolicy(bad), (e) => e instanceof SandboxError && e.code === 'VALIDATION_FAILED' && e.status === 400);
    }
    assert.deepEqual((await sandbox.getNetworkPolicy()).policy, { internet: true, deny: ['evil.example'] });
    await sandbox.destroy();
  });
});

test('where the network cannot be held to a policy, one that restricts is refused', { skip: enforced && 'this stack enforces policies' }, async () => {
  const sandbox = fresh();
  await assert.rejects(sandbox.setAllowedHosts(['api.github.com']), (e) => e.code === 'EGRESS_UNAVAILABLE' && e.status === 501);
  const state = await sandbox.getNetworkPolicy();
  assert.equal(state.enforced, false);
  assert.match(state.reason, /cannot be enforced/);
  await sandbox.destroy();
});
