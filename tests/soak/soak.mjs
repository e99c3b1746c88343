// The soak: random concurrent operations against a real host agent (local mode, a jail per sandbox, a cgroup per
// session) beside a CPU hog, checked after each step, and at the end for anything left behind.
//
//   npm run soak                              the CI budget (SOAK_SECONDS=40)
//   SOAK_SECONDS=3600 npm run soak            an hour
//   SOAK_SEED=1234 npm run soak               replays a run (the seed is printed first)
//
// Each worker picks operations with a seeded generator: exec (output exactly its own, on both streams), large
// output, a timeout (124, and its daemon gone), a stream cancelled mid-way, sessions made and deleted, background
// processes started and killed, a sandbox destroyed, and, now and then, the agent stopped (SIGSTOP) for a moment.
// Every call must be answered within CALL_BOUND_MS. At the end every sandbox is destroyed, and the agent must have
// no process, zombie or cgroup left of them, its descriptors back to where they were, its memory within 2x idle.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { agentToken, startAgent } from '../e2e/stack.mjs';

const seconds = Number(process.env.SOAK_SECONDS ?? 40);
const seed = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const workers = Number(process.env.SOAK_WORKERS ?? 4);
const CALL_BOUND_MS = 20_000;
const SANDBOXES = ['soak-a', 'soak-b', 'soak-c'];
console.log(`# soak: seed ${seed}, ${seconds} s, ${workers} workers (replay with SOAK_SEED=${seed})`);

/// mulberry32: a small seeded generator, one per worker (seeded from the run's seed and the worker's number).
function generator(s) {
  return () => {
    s |= 0;
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dir = mkdtempSync(join(tmpdir(), 'sandbox-soak-'));
const agent = await startAgent(join(dir, 'sandboxes'));
const base = `http://127.0.0.1:${agent.port}`;
const agentPid = agent.process.pid;
const hogs = cpus().map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
let failures = 0;
let tolerated = 0;
let ops = 0;
/// Per sandbox: destroys begun, and destroys in progress. A call that a destroy overlapped may fail (with a
/// code: its sandbox was taken from under it); any other call must not.
const destroys = Object.fromEntries(SANDBOXES.map((s) => [s, { begun: 0, running: 0 }]));
const destroyMark = (sandbox) => ({ begun: destroys[sandbox].begun, running: destroys[sandbox].running });
/// A destroy running when the call began, begun since, or running now.
const overlapped = (sandbox, mark) =>
  mark.running > 0 || destroys[sandbox].begun !== mark.begun || destroys[sandbox].running > 0;

function fail(what) {
  failures += 1;
  console.log(`not ok - ${what}`);
}

async function call(sandbox, method, path, body, { signal } = {}) {
  const started = Date.now();
  const bound = AbortSignal.timeout(CALL_BOUND_MS);
  const res = await fetch(base + path, {
    method,
    headers: { 'x-sandbox-id': sandbox, 'x-sandbox-agent-token': agentToken, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: signal ? AbortSignal.any([signal, bound]) : bound,
  }).catch((e) => {
    if (signal?.aborted) return null;
    if (bound.aborted) throw new Error(`${method} ${path} on ${sandbox}: no answer within ${CALL_BOUND_MS} ms`);
    throw new Error(`${method} ${path} on ${sandbox}: the connection failed after ${Date.now() - started} ms (${e.message})`);
  });
  return res;
}

async function json(sandbox, method, path, body) {
  const res = await call(sandbox, method, path, body);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
  }
}

/// The operations, each checking what it got. `r` is the worker's generator, `n` a number unique to the step.
const operations = {
  async exec(r, sandbox, session, n) {
    const { body } = await json(sandbox, 'POST', '/v1/exec', { command: `printf OUT-${n}; printf ERR-${n} >&2`, sessionId: session });
    if (body.code) throw new Error(JSON.stringify(body));
    if (body.stdout !== `OUT-${n}` || body.stderr !== `ERR-${n}`) fail(`exec ${n}: ${JSON.stringify(body).slice(0, 300)}`);
  },
  async bigOutput(r, sandbox, session, n) {
    const size = Math.floor(r() * 2_000_000);
    const { body } = await json(sandbox, 'POST', '/v1/exec', { command: `head -c ${size} /dev/zero | tr '\\0' x`, sessionId: session });
    if (body.code) throw new Error(JSON.stringify(body));
    if (body.stdout.length !== size) fail(`big output ${n}: ${body.stdout.length} of ${size} bytes`);
  },
  async timeout(r, sandbox, session, n) {
    const command = `(setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > /tmp/daemon-${n}); sleep 30`;
    const { body } = await json(sandbox, 'POST', '/v1/exec', { command, sessionId: session, timeout: 100 + Math.floor(r() * 300) });
    if (body.code) throw new Error(JSON.stringify(body));
    if (body.exitCode !== 124 || body.stderr !== '') fail(`timeout ${n}: ${JSON.stringify(body).slice(0, 300)}`);
    // No pid written: the timeout came before the daemon's start was recorded (the final check still counts it).
    const probe = `[ -s /tmp/daemon-${n} ] || { echo gone; exit 0; }; s=$(cut -d' ' -f3 /proc/$(cat /tmp/daemon-${n})/stat 2>/dev/null); echo "\${s:-gone}"`;
    const check = await json(sandbox, 'POST', '/v1/exec', { command: probe, sessionId: session });
    if (check.body.code) throw new Error(JSON.stringify(check.body));
    if (!['gone', 'Z'].includes(check.body.stdout)) fail(`timeout ${n}: its daemon is ${check.body.stdout}`);
  },
  async cancelledStream(r, sandbox, session, n) {
    const abort = new AbortController();
    const res = await call(sandbox, 'POST', '/v1/exec/stream', { command: 'for i in $(seq 200); do echo $i; sleep 0.01; done', sessionId: session }, { signal: abort.signal });
    if (!res || res.status !== 200) throw new Error(`the stream answered ${res?.status}`);
    const reader = res.body.getReader();
    await reader.read();
    abort.abort();
    await reader.cancel().catch(() => {});
    // The session answers next, exactly.
    const { body } = await json(sandbox, 'POST', '/v1/exec', { command: `echo after-${n}`, sessionId: session });
    if (body.code) throw new Error(JSON.stringify(body));
    if (body.stdout !== `after-${n}`) fail(`after a cancelled stream ${n}: ${JSON.stringify(body).slice(0, 300)}`);
  },
  async sessionLife(r, sandbox, session, n) {
    const id = `s-${n}`;
    const made = await json(sandbox, 'POST', '/v1/sessions', { id, env: { N: String(n) } });
    if (made.status !== 201) throw new Error(JSON.stringify(made.body));
    const { body } = await json(sandbox, 'POST', '/v1/exec', { command: 'echo $N; sleep 100 & (setsid sleep 100 &)', sessionId: id });
    if (body.code) throw new Error(JSON.stringify(body));
    if (body.stdout !== String(n)) fail(`session ${id}: ${JSON.stringify(body).slice(0, 300)}`);
    const deleted = await json(sandbox, 'DELETE', `/v1/sessions/${id}`);
    if (deleted.status !== 200) throw new Error(JSON.stringify(deleted.body));
  },
  async backgroundProcess(r, sandbox, session, n) {
    const id = `p-${n}`;
    const started = await json(sandbox, 'POST', '/v1/processes', { command: 'echo up; (env -i setsid sleep 100 &); sleep 100', processId: id });
    if (started.status !== 201) throw new Error(JSON.stringify(started.body));
    const killed = await json(sandbox, 'DELETE', `/v1/processes/${id}`);
    if (killed.status !== 200) throw new Error(JSON.stringify(killed.body));
    if (killed.body.status !== 'killed') fail(`process ${id}: ${JSON.stringify(killed.body)}`);
  },
  async destroy(r, sandbox) {
    destroys[sandbox].begun += 1;
    destroys[sandbox].running += 1;
    try {
      const { status } = await json(sandbox, 'DELETE', '/v1/sandbox');
      if (status !== 200) fail(`destroy ${sandbox}: ${status}`);
    } finally {
      destroys[sandbox].running -= 1;
    }
  },
  async pauseAgent(r) {
    process.kill(agentPid, 'SIGSTOP');
    await new Promise((ok) => setTimeout(ok, 50 + Math.floor(r() * 250)));
    process.kill(agentPid, 'SIGCONT');
  },
};
const weights = [['exec', 30], ['bigOutput', 6], ['timeout', 8], ['cancelledStream', 8], ['sessionLife', 10], ['backgroundProcess', 8], ['destroy', 2], ['pauseAgent', 2]];
const total = weights.reduce((a, [, w]) => a + w, 0);

function pick(r) {
  let x = r() * total;
  for (const [name, w] of weights) {
    if ((x -= w) < 0) return name;
  }
  return 'exec';
}

const snapshot = () => ({ fds: readdirSync(`/proc/${agentPid}/fd`).length, rss: rssKib(agentPid) });
function rssKib(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]);
}

// Warm up (each sandbox's jail started and used once), then the baseline.
for (const sandbox of SANDBOXES) await json(sandbox, 'POST', '/v1/exec', { command: 'true' });
for (const sandbox of SANDBOXES) await json(sandbox, 'DELETE', '/v1/sandbox');
await new Promise((ok) => setTimeout(ok, 500));
const idle = snapshot();

const deadline = Date.now() + seconds * 1000;
const counts = {};
await Promise.all(Array.from({ length: workers }, async (_, w) => {
  const r = generator(seed + w * 7919);
  while (Date.now() < deadline) {
    const name = pick(r);
    const sandbox = SANDBOXES[Math.floor(r() * SANDBOXES.length)];
    const session = r() < 0.5 ? 'default' : undefined;
    const n = `${w}-${ops++}`;
    counts[name] = (counts[name] ?? 0) + 1;
    const before = destroyMark(sandbox);
    try {
      await operations[name](r, sandbox, session, n);
    } catch (err) {
      // Failing because its sandbox was destroyed meanwhile is right; in any other case it is a defect.
      if (overlapped(sandbox, before) && !/no answer within/.test(err.message)) {
        tolerated += 1;
      } else {
        fail(`${name} ${n} on ${sandbox}: ${err.message}`);
      }
    }
  }
}));
console.log(`# soak: ${ops} operations: ${JSON.stringify(counts)}; ${tolerated} failed as their sandbox was destroyed`);

// The end: every sandbox destroyed; nothing of them may be left.
for (const sandbox of SANDBOXES) await json(sandbox, 'DELETE', '/v1/sandbox').catch((e) => fail(`final destroy: ${e.message}`));
hogs.forEach((h) => h.kill('SIGKILL'));
const leftovers = async () => {
  const children = descendants(agentPid);
  const zombies = children.filter((p) => p.state === 'Z');
  const groups = cgroupsLeft(agentPid);
  const now = snapshot();
  return { children: children.length, zombies: zombies.length, groups, fds: now.fds, rss: now.rss };
};
let left;
for (let i = 0; i < 50; i++) {
  left = await leftovers();
  if (left.children === 0 && left.groups.length === 0 && left.fds <= idle.fds + 2) break;
  await new Promise((ok) => setTimeout(ok, 100));
}
console.log(`# soak: idle ${JSON.stringify(idle)}; at the end ${JSON.stringify(left)}`);
if (left.children) fail(`${left.children} processes of the sandboxes were left (${left.zombies} zombies)`);
if (left.groups.length) fail(`cgroups were left: ${left.groups.join(', ')}`);
if (left.fds > idle.fds + 2) fail(`the agent holds ${left.fds} descriptors, ${idle.fds} when idle`);
if (left.rss > 2 * idle.rss) fail(`the agent's memory is ${left.rss} KiB, more than twice its ${idle.rss} KiB idle`);
await agent.stop();
rmSync(dir, { recursive: true, force: true });
console.log(failures ? `# soak: FAILED (${failures}), seed ${seed}` : `# soak: ok, seed ${seed}`);
process.exit(failures ? 1 : 0);

/// Every process below `pid` (by parent links), with its state.
function descendants(pid) {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((d) => {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { pid: Number(d), state: rest[0], ppid: Number(rest[1]) };
    } catch {
      return null;
    }
  }).filter(Boolean);
  const out = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    for (const c of all.filter((x) => x.ppid === p)) {
      out.push(c);
      stack.push(c.pid);
    }
  }
  return out;
}

/// The cgroups the agent has below its own folder (none once every sandbox is gone), where it makes them.
function cgroupsLeft(pid) {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  const mount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '));
  if (!line || !mount) return [];
  const point = mount.split(' ')[4];
  const folder = join(point, line.slice(3), `sandbox-agent-${pid}`);
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
}
