// Starts the local stack for end-to-end tests: the real agent (multi-sandbox mode) and the real Worker under
// `wrangler dev` (workerd), on free loopback ports, and stops both afterwards.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

async function waitFor(url, headers, limitMs) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      const res = await fetch(url, { headers });
      if (res.status < 500) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/// Whether this machine can give each local sandbox its own jail (bubblewrap and namespaces); the agent isolates
/// sandboxes by default and refuses to start otherwise, so the stack asks for `--unconfined` then, and says so.
export const isolated = spawnSync(
  'bwrap', ['--unshare-user-try', '--unshare-pid', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'],
  { stdio: 'ignore' },
).status === 0;
if (!isolated) {
  console.error('e2e: bubblewrap cannot make namespaces here: the local agent runs UNCONFINED (sandboxes not isolated)');
}

/// The token the local agent asks of its callers (code in a local sandbox shares the loopback): the Worker gets it
/// as `SANDBOX_AGENT_TOKEN`, and tests that call the agent directly send it as `X-Sandbox-Agent-Token`.
export const agentToken = `agent-${process.pid}-${Date.now()}`;

export async function startAgent(dir, port, profile = 'debug') {
  port ??= await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--multi-sandbox', dir, ...(isolated ? [] : ['--unconfined'])];
  const agent = spawn(join(root, `target/${profile}/sandbox-agent`), args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, SANDBOX_AGENT_TOKEN: agentToken },
  });
  await waitFor(`http://127.0.0.1:${port}/v1/health`, {}, 10_000);
  return { port, process: agent, stop: () => stop(agent) };
}

function stop(child) {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok();
    child.once('exit', () => ok());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/// `wrangler dev` of the Worker configured in `cwd`, on `port`, its own process group; `registry` is the dev
/// registry folder through which Workers in separate `wrangler dev` processes reach each other's service bindings.
function wranglerDev({ cwd, port, registry, persist, args = [] }) {
  return spawn(
    join(root, 'node_modules/.bin/wrangler'),
    [
      'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist,
      '--show-interactive-dev-session=false', '--log-level', 'warn', ...args,
    ],
    {
      cwd,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', CI: 'true',
        WRANGLER_REGISTRY_PATH: registry,
      },
      detached: true,
    },
  );
}

function stopGroup(child) {
  return new Promise((ok) => {
    if (child.exitCode !== null) return ok();
    child.once('exit', () => ok());
    try { process.kill(-child.pid, 'SIGTERM'); } catch { ok(); }
    setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, 5000).unref();
  });
}

/// A recording relay in front of the agent: every request the Worker sends on is passed to the agent as it is,
/// and its method, path and headers are kept in `seen`, so a test can check what reached the agent.
async function startRelay(agentPort) {
  const seen = [];
  const server = createHttpServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    const upstream = httpRequest(
      { host: '127.0.0.1', port: agentPort(), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  const port = await new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server.address().port)));
  return { port, seen, stop: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }) };
}

/// The whole stack. `token`, when given, is set as SANDBOX_API_TOKEN; `profile` picks the agent build (debug or
/// release); with `relay`, the Worker reaches the agent through a recording relay (`stack.relay.seen`). Its dev
/// registry (`registry`) lets caller Workers started with `startCaller` bind to it.
export async function startStack({ token, profile = 'debug', relay: withRelay = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-e2e-'));
  const registry = join(dir, 'registry');
  let agent = await startAgent(join(dir, 'sandboxes'), undefined, profile);
  const relay = withRelay ? await startRelay(() => agent.port) : undefined;
  const port = await freePort();
  const vars = [
    '--var', `SANDBOX_AGENT_URL:http://127.0.0.1:${relay?.port ?? agent.port}`, '--var', 'SANDBOX_TEST_HOOKS:1',
    '--var', `SANDBOX_AGENT_TOKEN:${agentToken}`,
  ];
  if (token) vars.push('--var', `SANDBOX_API_TOKEN:${token}`);
  const wrangler = wranglerDev({ cwd: root, port, registry, persist: join(dir, 'wrangler'), args: vars });
  const callers = [];
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/v1/health`, token ? { authorization: `Bearer ${token}` } : {}, 120_000);
  return {
    base,
    relay,
    isolated,
    agentToken,
    get agent() {
      return agent;
    },
    dir,
    /// Kills the agent and starts a new one on the same port and folder (its sessions are gone).
    async restartAgent() {
      await agent.stop();
      agent = await startAgent(join(dir, 'sandboxes'), agent.port, profile);
    },
    /// Starts the caller Worker of `examples/<name>` (its `SANDBOX` binding reaches this stack's Worker) and
    /// returns its base URL.
    async startCaller(name) {
      const callerPort = await freePort();
      const cwd = join(root, 'examples', name);
      callers.push(wranglerDev({ cwd, port: callerPort, registry, persist: join(dir, `wrangler-${name}`) }));
      const callerBase = `http://127.0.0.1:${callerPort}`;
      await waitFor(`${callerBase}/`, {}, 300_000);
      return callerBase;
    },
    async stop() {
      await Promise.all([wrangler, ...callers].map(stopGroup));
      await relay?.stop();
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
