// Starts the stack for end-to-end tests and stops it afterwards: the real Worker under `wrangler dev` (workerd) on
// a free loopback port, and behind it either the real agent on the host (multi-sandbox mode: the local stack), or,
// with SANDBOX_E2E_STACK=containers, a real container per sandbox started by its Durable Object through
// `State::container()` (the production path; scripts/test-containers.sh prepares Docker and runs the suite so).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
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

export async function waitFor(url, headers, limitMs, child) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${url}: the server exited (code ${child.exitCode}) before it answered`);
    try {
      const res = await fetch(url, { headers });
      if (res.status < 500) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/// The stack's kind: `local` (a host agent) or `containers` (one container per sandbox).
export const containers = process.env.SANDBOX_E2E_STACK === 'containers';
/// The name workerd gives a sandbox's container begins with this (`workerd-<worker>-<class>-<object id>`); its
/// egress sidecar's name ends in `-proxy`.
export const CONTAINER_PREFIX = 'workerd-sandbox-rs-Sandbox-';

export function docker(...args) {
  const run = spawnSync('docker', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`docker ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim();
}

/// A call with an optional JSON body to `base + path`: `{ status, json (when the answer is JSON), text, headers }`.
export async function callJson(base, method, path, body, headers = {}) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

/// The sandbox containers (not their sidecars) that exist now, running or not, with their sandbox ids.
export function sandboxContainers() {
  const names = docker('ps', '-a', '--filter', `name=^/${CONTAINER_PREFIX}`, '--format', '{{.Names}}')
    .split('\n').filter((n) => n && !n.endsWith('-proxy'));
  if (names.length === 0) return [];
  // One inspect for all; a container removed since the listing is left out (its line is missing).
  const run = spawnSync('docker', ['inspect', '-f', '{{.Name}}\t{{json .Config.Env}}\t{{.State.Status}}\t{{.State.Pid}}', ...names], { encoding: 'utf8' });
  return run.stdout.split('\n').filter(Boolean).map((line) => {
    const [name, env, state, pid] = line.split('\t');
    const id = JSON.parse(env).find((e) => e.startsWith('SANDBOX_ID='))?.slice('SANDBOX_ID='.length);
    return { name: name.replace(/^\//, ''), id, state, pid: Number(pid) };
  });
}

/// Every container and sidecar the Worker's objects made (wrangler leaves the sidecars on exit).
export function removeSandboxContainers() {
  const all = docker('ps', '-aq', '--filter', `name=^/${CONTAINER_PREFIX}`).split('\n').filter(Boolean);
  if (all.length) spawnSync('docker', ['rm', '-f', ...all], { stdio: 'ignore' });
}

/// Whether this machine can give each local sandbox its own jail (bubblewrap and namespaces); the agent isolates
/// sandboxes by default and refuses to start otherwise, so the stack asks for `--unconfined` then, and says so.
/// (The agent's own probe: user and network namespaces, as an unprivileged uid of its jails' range when root.)
const jailUid = process.getuid() === 0 ? 0x40000000 : undefined;
export const isolated = spawnSync(
  'bwrap',
  ['--unshare-user', '--uid', '0', '--unshare-pid', '--unshare-net', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'],
  { stdio: 'ignore', cwd: '/', env: {}, uid: jailUid, gid: jailUid },
).status === 0;
if (!isolated) {
  console.error('e2e: bubblewrap cannot make namespaces here: the local agent runs UNCONFINED (sandboxes not isolated)');
}

/// The token the local agent asks of its callers (anything else on this machine's loopback): the Worker gets it
/// as `SANDBOX_AGENT_TOKEN`, and tests that call the agent directly send it as `X-Sandbox-Agent-Token`.
export const agentToken = `agent-${process.pid}-${Date.now()}`;

export async function startAgent(dir, port, profile = 'debug', extra = []) {
  port ??= await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--multi-sandbox', dir, ...(isolated ? [] : ['--unconfined']), ...extra];
  const agent = spawn(join(root, `target/${profile}/sandbox-agent`), args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    // The agent's log (JSON lines on stderr) at warnings unless SANDBOX_AGENT_LOG asks for more.
    env: { SANDBOX_AGENT_LOG: 'warn', ...process.env, SANDBOX_AGENT_TOKEN: agentToken },
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
/// registry folder through which Workers in separate `wrangler dev` processes reach each other's service bindings
/// (`{ home }` instead: wrangler's default registry, with `home` as the user's home and config folder).
export function wranglerDev({ cwd, port, registry, persist, args = [] }) {
  return spawnWorker(cwd, registry, join(root, 'node_modules/.bin/wrangler'), [
    'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist,
    '--show-interactive-dev-session=false', '--log-level', logLevel, ...args,
  ]);
}

/// The sandbox Worker as `npm run dev` starts it (scripts/dev-worker.mjs: wrangler's API, no inspector), on `port`,
/// its own process group; `args` are that script's `--var` and `--config` flags.
export function devWorker({ port, registry, persist, args = [] }) {
  return spawnWorker(root, registry, process.execPath, [
    join(root, 'scripts/dev-worker.mjs'), '--port', String(port), '--persist-to', persist, '--log-level', logLevel, ...args,
  ]);
}

const logLevel = process.env.SANDBOX_E2E_LOG_LEVEL ?? 'warn';

function spawnWorker(cwd, registry, command, args) {
  const where = typeof registry === 'string' ? { WRANGLER_REGISTRY_PATH: registry } : homeEnv(registry.home);
  return spawn(command, args, {
    cwd,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...withoutUndefined({ ...process.env, ...where }), CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false',
      CI: 'true',
    },
    detached: true,
  });
}

/// The variables that make `home` the user's home and config folder (so wrangler's default dev registry is under
/// it), with no registry path of its own; the Rust toolchain stays where it is (the Worker's build runs cargo
/// through rustup).
export function homeEnv(home) {
  const realHome = process.env.HOME ?? '/root';
  return {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    WRANGLER_REGISTRY_PATH: undefined,
    RUSTUP_HOME: process.env.RUSTUP_HOME ?? join(realHome, '.rustup'),
    CARGO_HOME: process.env.CARGO_HOME ?? join(realHome, '.cargo'),
  };
}

function withoutUndefined(env) {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));
}

export function stopGroup(child) {
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
  return {
    port,
    seen,
    /// Cuts every connection through the relay, as a network that breaks would (new ones are relayed again).
    cut: () => server.closeAllConnections(),
    stop: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}

/// The whole stack. `token`, when given, is set as SANDBOX_API_TOKEN; `profile` picks the agent build (debug or
/// release); with `relay`, the Worker reaches the agent through a recording relay (`stack.relay.seen`). Its dev
/// registry (`registry`) lets caller Workers started with `startCaller` bind to it.
///
/// With SANDBOX_E2E_STACK=containers there is no host agent and no relay (`agent` and `relay` are undefined);
/// `vars` adds Worker variables, `config` names another wrangler configuration (a test Worker of the same code),
/// and the first `wrangler dev` builds the image (minutes; later ones hit the cache).
export async function startStack({ token, profile = 'debug', relay: withRelay = false, vars: extra = {}, config, agentArgs = [], home } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-e2e-'));
  // With `home`, wrangler's default registry under that home, as a user's `npm run dev` and `wrangler dev` share it.
  const registry = home ? { home } : join(dir, 'registry');
  let agent = containers ? undefined : await startAgent(join(dir, 'sandboxes'), undefined, profile, agentArgs);
  const relay = withRelay && !containers ? await startRelay(() => agent.port) : undefined;
  const port = await freePort();
  // Preview URLs at this Worker's port, also for calls that come through a service binding (which have none).
  const vars = ['--var', 'SANDBOX_TEST_HOOKS:1', '--var', `SANDBOX_PREVIEW_HOST:localhost:${port}`];
  if (containers) {
    vars.push('--containers', '--var', 'SANDBOX_LOCAL_DEV:1');
  } else {
    vars.push('--var', `SANDBOX_AGENT_URL:http://127.0.0.1:${relay?.port ?? agent.port}`);
    vars.push('--var', `SANDBOX_AGENT_TOKEN:${agentToken}`);
  }
  if (token) vars.push('--var', `SANDBOX_API_TOKEN:${token}`);
  for (const [name, value] of Object.entries(extra)) vars.push('--var', `${name}:${value}`);
  if (config) vars.push('--config', config);
  // The sandbox Worker as `npm run dev` runs it (with containers, as `npm run dev -- --containers` does).
  const wrangler = devWorker({ port, registry, persist: join(dir, 'wrangler'), args: vars });
  const callers = [];
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${base}/v1/health`, token ? { authorization: `Bearer ${token}` } : {}, containers ? 900_000 : 120_000, wrangler);
  } catch (error) {
    // Nothing started here outlives a stack that did not come up (its output would hold the test run open).
    await stopGroup(wrangler);
    await relay?.stop();
    await agent?.stop();
    throw error;
  }
  return {
    base,
    relay,
    isolated,
    containers,
    agentToken,
    get agent() {
      return agent;
    },
    dir,
    /// Ends the sandboxes' agents: the local stack kills the host agent and starts a new one on the same port and
    /// folder; with containers, the agent (PID 1) of every sandbox container is killed from the host, as a crash
    /// would end it. Either way their sessions are gone.
    async restartAgent() {
      if (containers) {
        // Each agent (PID 1) is killed, and this returns once Docker has seen every one of them die (it then
        // restarts the container in place, or it is gone), as `agent.stop()` waits for the host agent's exit: a
        // call made after that meets a dead agent, never one still dying. (A call that races a death in flight
        // is answered 503 CONTAINER_UNAVAILABLE: tests/containers/lifecycle.test.mjs.)
        const killed = sandboxContainers().filter((c) => c.state === 'running' && c.pid > 0);
        for (const c of killed) {
          try { process.kill(c.pid, 'SIGKILL'); } catch {}
        }
        const deadline = Date.now() + 15_000;
        for (;;) {
          const now = new Map(sandboxContainers().map((c) => [c.name, c]));
          const dying = killed.filter((c) => now.get(c.name)?.state === 'running' && now.get(c.name).pid === c.pid);
          if (dying.length === 0) break;
          if (Date.now() > deadline) throw new Error(`Docker did not see these agents die: ${dying.map((c) => c.name)}`);
          await new Promise((ok) => setTimeout(ok, 50));
        }
        return;
      }
      await agent.stop();
      agent = await startAgent(join(dir, 'sandboxes'), agent.port, profile, agentArgs);
    },
    /// Sends a request straight to the agent of `sandbox`, past the Worker: the host agent over HTTP, or the
    /// container's own with curl inside it. Returns `{ status, text }`.
    async agentCall(sandbox, path, body) {
      if (!containers) {
        const res = await fetch(`http://127.0.0.1:${agent.port}${path}`, {
          method: 'POST',
          headers: { 'x-sandbox-id': sandbox, 'content-type': 'application/json', 'x-sandbox-agent-token': agentToken },
          body: JSON.stringify(body),
        });
        return { status: res.status, text: await res.text() };
      }
      const container = sandboxContainers().find((c) => c.id === sandbox && c.state === 'running');
      if (!container) throw new Error(`no running container for sandbox ${sandbox}`);
      const run = spawnSync('docker', [
        'exec', '-i', container.name, 'curl', '-sS', '-N', '-w', '\n%{http_code}', '-X', 'POST',
        '-H', 'content-type: application/json', '--data-binary', '@-', `http://127.0.0.1:3000${path}`,
      ], { input: JSON.stringify(body), encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`curl in ${container.name}: ${run.stderr}`);
      const cut = run.stdout.lastIndexOf('\n');
      return { status: Number(run.stdout.slice(cut + 1)), text: run.stdout.slice(0, cut) };
    },
    /// Starts the caller Worker of `examples/<name>` (its `SANDBOX` binding reaches this stack's Worker) and
    /// returns its base URL.
    async startCaller(name) {
      return this.startWorker(join(root, 'examples', name));
    },
    /// Starts the Worker configured in `cwd` under its own `wrangler dev` (with `args`, such as `--var`s) and
    /// returns its base URL once `GET {ready}` answers.
    async startWorker(cwd, args = [], ready = '/') {
      const workerPort = await freePort();
      const persist = join(dir, `wrangler-${callers.length}`);
      callers.push(wranglerDev({ cwd, port: workerPort, registry, persist, args }));
      const workerBase = `http://127.0.0.1:${workerPort}`;
      await waitFor(`${workerBase}${ready}`, {}, 300_000, callers.at(-1));
      return workerBase;
    },
    async stop() {
      await Promise.all([wrangler, ...callers].map(stopGroup));
      await relay?.stop();
      await agent?.stop();
      if (containers) removeSandboxContainers();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/// How long a WebSocket handshake may take: a container's first start included.
const UPGRADE_DEADLINE_MS = 60_000;

/// A WebSocket to `path` of the Worker at `base` (Node 20 has no WebSocket client: the few frames a terminal needs,
/// spoken here): `send(text, opcode)` sends (binary by default), `text()` waits for the next text message as JSON,
/// `until(needle)` reads binary messages until they hold `needle`. `refused` and `body` when there was no upgrade.
export function openWebSocket(base, path, headers = {}) {
  const { port } = new URL(base);
  const upgrade = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64'), ...headers };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: upgrade });
    // The handshake has a deadline as every other wait here has: a stack that never answers fails the test, naming
    // what it waited for, instead of holding the run until CI's own limit.
    const deadline = setTimeout(() => {
      req.destroy(new Error(`no answer to the WebSocket upgrade of ${path} within ${UPGRADE_DEADLINE_MS / 1000} s`));
    }, UPGRADE_DEADLINE_MS);
    req.on('close', () => clearTimeout(deadline));
    req.on('response', (res) => {
      clearTimeout(deadline);
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ refused: res.statusCode, body }));
    });
    req.on('error', reject);
    req.on('upgrade', (_res, socket, head) => {
      clearTimeout(deadline);
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
        /// Bytes of terminal output received so far, and a wait until there are at least `n`.
        received: () => output.length,
        atLeast: (n) => waitFor(() => (output.length >= n ? output.length : undefined), `${n} bytes`),
        /// A close frame, as a browser sends when its page goes, then the connection's end.
        close() {
          const mask = randomBytes(4);
          const payload = Buffer.from([0x03, 0xe8]).map((b, i) => b ^ mask[i % 4]); // 1000: normal closure
          socket.end(Buffer.concat([Buffer.from([0x88, 0x82]), mask, payload]));
        },
        /// The connection cut without a close frame (a network failure).
        drop: () => socket.destroy(),
      });
    });
    req.end();
  });
}

