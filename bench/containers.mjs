// The production path, measured here: `wrangler dev` with real containers, one per sandbox, started by the
// sandbox's Durable Object through `State::container()`. Run with `npm run bench:containers`
// (scripts/with-containers.sh prepares Docker and cleans up). Prints a Markdown report:
//
// - cold start: a new sandbox's first call (exec `true`) to its answer, which starts its container;
// - wake after idle stop: the first call after SANDBOX_SLEEP_AFTER stopped the container, sessions re-created;
// - warm exec `true` through the whole path against the same exec sent to the agent inside the same container;
// - capacity: sandboxes started one after another, each kept running, until a call fails or BENCH_CAPACITY.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';

import { sandboxContainers, startStack } from '../tests/e2e/stack.mjs';

const COLD = Number(process.env.BENCH_COLD ?? 20);
const WAKES = Number(process.env.BENCH_WAKES ?? 10);
const WARM = Number(process.env.BENCH_N ?? 300);
const CAPACITY = Number(process.env.BENCH_CAPACITY ?? 150);
const SLEEP_AFTER_S = 2;

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const running = (id) => sandboxContainers().filter((c) => c.id === id && c.state === 'running');
const memAvailableMiB = () => Number(readFileSync('/proc/meminfo', 'utf8').match(/MemAvailable:\s+(\d+)/)[1]) / 1024;

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => sorted[Math.round((sorted.length - 1) * p)];
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), min: sorted[0], max: sorted.at(-1) };
}
const row = (name, s, unit = 'ms', digits = 1) =>
  `| ${name} | ${s.n} | ${s.p50.toFixed(digits)} ${unit} | ${s.p99.toFixed(digits)} ${unit} | ${s.min.toFixed(digits)}-${s.max.toFixed(digits)} ${unit} |`;

async function exec(base, sandbox, body = { command: 'true' }) {
  const res = await fetch(`${base}/v1/sandboxes/${sandbox}/exec`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const json = await res.json();
  if (res.status !== 200 || json.exitCode !== 0) throw new Error(`${sandbox}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const report = [];
const say = (line = '') => report.push(line);

// Cold start, wake and warm exec, on a stack whose sandboxes stop after SANDBOX_SLEEP_AFTER_S seconds idle.
{
  const stack = await startStack({ vars: { SANDBOX_SLEEP_AFTER: `${SLEEP_AFTER_S}s` } });
  try {
    // One sandbox first, so that nothing of the first image use counts.
    await exec(stack.base, 'warmup');
    const cold = [];
    for (let i = 0; i < COLD; i++) cold.push(await timed(() => exec(stack.base, `cold-${i}`)));

    const wakes = [];
    await fetch(`${stack.base}/v1/sandboxes/wake/sessions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'kept', env: { A: '1' } }),
    });
    for (let i = 0; i < WAKES; i++) {
      const t0 = Date.now();
      while (running('wake').length > 0) {
        if (Date.now() - t0 > 60_000) throw new Error('the idle sandbox was not stopped');
        await sleep(100);
      }
      wakes.push(await timed(() => exec(stack.base, 'wake', { command: 'test "$A" = 1', sessionId: 'kept' })));
    }

    // Warm: the same exec through the whole path (Node's fetch, keep-alive) and at the agent inside the container
    // (curl in the container, one connection for every request: the curl process's start is not counted).
    await exec(stack.base, 'warm');
    const viaWorker = [];
    for (let i = 0; i < WARM / 10; i++) await exec(stack.base, 'warm');
    for (let i = 0; i < WARM; i++) viaWorker.push(await timed(() => exec(stack.base, 'warm')));
    const [container] = running('warm');
    // (`-o` applies to one URL: each gets its own.)
    const urls = Array.from({ length: WARM + WARM / 10 }, () => ['-o', '/dev/null', 'http://127.0.0.1:3000/v1/exec']);
    const curl = spawnSync('docker', [
      'exec', container.name, 'curl', '-sS', '-w', '%{time_total}\\n', '-X', 'POST',
      '-H', 'content-type: application/json', '--data', '{"command":"true"}', ...urls.flat(),
    ], { encoding: 'utf8' });
    if (curl.status !== 0) throw new Error(`curl in ${container.name}: ${curl.stderr}`);
    const atAgent = curl.stdout.trim().split('\n').slice(WARM / 10).map((s) => Number(s) * 1000);

    const c = stats(cold);
    const w = stats(wakes);
    const v = stats(viaWorker);
    const a = stats(atAgent);
    say('| measurement | n | p50 | p99 | range |');
    say('|---|---|---|---|---|');
    say(row('cold start: a new sandbox\'s first exec `true`, call to answer', c));
    say(row(`wake: first exec after an idle stop (SANDBOX_SLEEP_AFTER=${SLEEP_AFTER_S}s), its session re-created`, w));
    say(row('warm exec `true`, whole path (wrangler dev → Worker → Durable Object → container port → agent)', v, 'ms', 2));
    say(row('warm exec `true` at the agent, inside the same container (curl, one connection)', a, 'ms', 2));
    say();
    say(`Whole path against the agent in the container, warm, p50: ${(v.p50 / a.p50).toFixed(1)}× (+${(v.p50 - a.p50).toFixed(2)} ms).`);
  } finally {
    await stack.stop();
  }
}

// Capacity: sandboxes that stay up (no idle stop during the run), started one after another.
{
  const stack = await startStack({ vars: { SANDBOX_SLEEP_AFTER: '1h' } });
  const before = memAvailableMiB();
  const starts = [];
  let failure = null;
  try {
    for (let i = 0; i < CAPACITY; i++) {
      try {
        starts.push(await timed(() => exec(stack.base, `cap-${i}`)));
      } catch (err) {
        failure = `sandbox ${i + 1}: ${err.message}`;
        break;
      }
    }
    const held = starts.length;
    const used = before - memAvailableMiB();
    const alive = sandboxContainers().filter((c) => c.state === 'running' && c.id?.startsWith('cap-')).length;
    // Every one still answers (a warm call; one that has to start again is not counted).
    let answering = 0;
    for (let i = 0; i < held; i++) {
      try {
        const res = await fetch(`${stack.base}/v1/sandboxes/cap-${i}/exec`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"command":"true"}',
          signal: AbortSignal.timeout(5_000),
        });
        if (res.status === 200) answering++;
        await res.arrayBuffer();
      } catch {}
    }
    const tenth = Math.max(1, Math.floor(held / 10));
    say();
    say(`Capacity: ${held} sandboxes started one after another${failure ? `; then ${failure}` : ` (BENCH_CAPACITY; nothing gave)`}; `
      + `${alive} containers of them running at the end, and ${answering} answered a call within 5 s afterwards. Memory: ${used.toFixed(0)} MiB of MemAvailable for ${held} `
      + `(${(used / Math.max(held, 1)).toFixed(1)} MiB per sandbox: its container, its sidecar, docker-proxy, workerd's share). `
      + `Cold start of the first ${tenth}: p50 ${stats(starts.slice(0, tenth)).p50.toFixed(0)} ms; of the last ${tenth}: `
      + `p50 ${stats(starts.slice(-tenth)).p50.toFixed(0)} ms.`);
  } finally {
    await stack.stop();
  }
}

const docker = spawnSync('docker', ['version', '-f', '{{.Server.Version}}'], { encoding: 'utf8' }).stdout.trim();
console.log('## Through real containers (`npm run bench:containers`)\n');
console.log(`Machine: ${cpus()[0].model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}; `
  + `Node ${process.version}; Docker Engine ${docker}; wrangler dev 4.86 with --enable-containers.\n`);
console.log(report.join('\n'));
