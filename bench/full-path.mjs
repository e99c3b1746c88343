// The full path against the agent alone, in one run: exec `true` in one session, p50/p99, and the overhead ratio.
// Full path: client → workerd (`wrangler dev`) → Worker → Durable Object → agent. Both over HTTP keep-alive from
// this process. Run with `npm run bench:worker` (builds the release agent and the Worker first).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { Agent as HttpAgent, request } from 'node:http';
import { cpus, totalmem, release } from 'node:os';

import { freePort, startStack } from '../tests/e2e/stack.mjs';

const n = Number(process.env.BENCH_N ?? 1000);
const token = 'bench';
const stack = await startStack({ token, profile: 'release' });

async function health(url, headers) {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`health: ${res.status}`);
}

async function exec(url, headers) {
  const res = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ command: 'true', sessionId: 'bench' }) });
  const body = await res.json();
  if (res.status !== 200 || body.exitCode !== 0) throw new Error(`exec failed: ${res.status} ${JSON.stringify(body)}`);
}

async function measure(name, url, headers, call = exec) {
  for (let i = 0; i < n / 10; i++) await call(url, headers);
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await call(url, headers);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.round((samples.length - 1) * p)];
  return { name, p50: at(0.5), p99: at(0.99) };
}

try {
  const auth = { authorization: `Bearer ${token}` };
  const agentUrl = `http://127.0.0.1:${stack.agent.port}`;
  // The same session on both paths: the Worker's sandbox `bench-box` is the agent's `X-Sandbox-Id: bench-box`.
  const created = await fetch(`${stack.base}/v1/sandboxes/bench-box/sessions`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'bench' }),
  });
  if (created.status !== 201) throw new Error(`session: ${created.status}`);
  const rows = [];
  rows.push(await measure('agent alone', `${agentUrl}/v1/exec`, { 'x-sandbox-id': 'bench-box', 'x-sandbox-agent-token': stack.agentToken }));
  rows.push(await measure('full path (workerd → Worker → Durable Object → agent)', `${stack.base}/v1/sandboxes/bench-box/exec`, auth));
  rows.push(await measure('agent alone, again', `${agentUrl}/v1/exec`, { 'x-sandbox-id': 'bench-box', 'x-sandbox-agent-token': stack.agentToken }));
  rows.push(await measure('for reference: workerd → Worker only (`GET /v1/health`)', `${stack.base}/v1/health`, auth, health));
  rows.push(await measure('for reference: workerd → Worker → Durable Object, no agent (`GET /v1/sandboxes/bench-box/ports`)', `${stack.base}/v1/sandboxes/bench-box/ports`, auth, health));
  const alone = (rows[0].p50 + rows[2].p50) / 2;
  console.log('## Full path against the agent alone\n');
  console.log(`Machine: ${cpus()[0].model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}; Node ${process.version}\n`);
  console.log(`exec \`true\` in one session, n = ${n} per row, HTTP keep-alive from Node's fetch.\n`);
  console.log('| path | p50 | p99 |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.p50.toFixed(3)} ms | ${r.p99.toFixed(3)} ms |`);
  console.log(`\nOverhead of the Worker path: ${(rows[1].p50 / alone).toFixed(2)}× the agent alone at p50 (+${(rows[1].p50 - alone).toFixed(3)} ms).`);
  const wasm = statSync(new URL('../build/index_bg.wasm', import.meta.url)).size;
  console.log(`\nWorker WASM (build/index_bg.wasm, as built): ${(wasm / 1024).toFixed(0)} KiB.`);
  await previewOverhead(auth);
  await againstBaseline(auth, agentUrl);
} finally {
  await stack.stop();
}

/// A page served by a process of the sandbox, fetched through its preview URL (workerd → Worker → Durable Object →
/// the port) and straight from the port, alternately, over keep-alive connections.
async function previewOverhead(auth) {
  const port = await freePort();
  const call = (method, path, body) => fetch(`${stack.base}/v1/sandboxes/bench-box${path}`, {
    method, headers: { ...auth, 'content-type': 'application/json' }, body: body && JSON.stringify(body),
  }).then((r) => r.json());
  await call('POST', '/exec', { command: 'mkdir -p site && printf hello > site/index.html' });
  await call('POST', '/processes', { command: `exec python3 -m http.server ${port} --bind 127.0.0.1 --directory site`, processId: 'site' });
  await call('POST', '/processes/site/wait', { condition: 'port', port, path: '/index.html', timeout: 20000 });
  const { url } = await call('POST', '/ports', { port });
  const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const get = (target, host) => new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: target, path: '/index.html', agent: keepAlive, headers: host ? { host } : {} }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => (res.statusCode === 200 && body === 'hello' ? ok() : fail(new Error(`${res.statusCode} ${body}`))));
    });
    req.on('error', fail);
    req.end();
  });
  const viaPreview = () => get(new URL(stack.base).port, new URL(url).host);
  const direct = () => get(port);
  const rows = [];
  rows.push(await measure('straight to the port', null, null, direct));
  rows.push(await measure('through the preview URL (workerd → Worker → Durable Object → port)', null, null, viaPreview));
  rows.push(await measure('straight to the port, again', null, null, direct));
  const alone = (rows[0].p50 + rows[2].p50) / 2;
  console.log('\n## Preview URL against the port alone\n');
  console.log(`GET of a 5-byte page from \`python3 -m http.server\` in the sandbox, n = ${n} per row.\n`);
  console.log('| path | p50 | p99 |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.p50.toFixed(3)} ms | ${r.p99.toFixed(3)} ms |`);
  console.log(`\nOverhead of the preview path: ${(rows[1].p50 / alone).toFixed(2)}× the port alone at p50 (+${(rows[1].p50 - alone).toFixed(3)} ms).`);
  keepAlive.destroy();
}

/// The Worker path against a baseline: a minimal JavaScript Worker and Durable Object forwarding the same call the
/// same way (bench/baseline), under the same `wrangler dev`, alternately with the sandbox Worker. What the baseline
/// costs belongs to workerd and wrangler's dev proxy; what the Worker costs beyond it is its own. Both are also
/// timed without the dev proxy, straight at their workerd, and the hops split: the Worker alone, the Worker and its
/// Durable Object, the whole path.
async function againstBaseline(auth, agentUrl) {
  const agentHeaders = { 'x-sandbox-id': 'bench-box', 'x-sandbox-agent-token': stack.agentToken };
  const before = workerdPorts();
  const direct = await directEntry(before, [new URL(stack.base).port], '/v1/health', auth);
  const baseline = await stack.startWorker(new URL('./baseline/', import.meta.url).pathname, [
    '--var', `AGENT_URL:${agentUrl}`, '--var', `AGENT_TOKEN:${stack.agentToken}`,
  ]);
  const added = new Set([...workerdPorts()].filter((p) => !before.has(p)));
  const baselineDirect = await directEntry(added, [new URL(baseline).port], '/v1/sandboxes/bench-box/health', {});
  const rows = [];
  rows.push(await measure('baseline: workerd → minimal JS Worker → Durable Object → agent', `${baseline}/v1/sandboxes/bench-box/exec`, {}));
  rows.push(await measure('sandbox-rs: workerd → Worker → Durable Object → agent', `${stack.base}/v1/sandboxes/bench-box/exec`, auth));
  rows.push(await measure('baseline, again', `${baseline}/v1/sandboxes/bench-box/exec`, {}));
  const floor = (rows[0].p50 + rows[2].p50) / 2;
  console.log('\n## The Worker path against a minimal forwarding Worker\n');
  console.log(`exec \`true\` in one session, n = ${n} per row.\n`);
  console.log('| path | p50 | p99 |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.p50.toFixed(3)} ms | ${r.p99.toFixed(3)} ms |`);
  console.log(`\nsandbox-rs against the baseline: ${(rows[1].p50 / floor).toFixed(2)}× at p50 (${(rows[1].p50 - floor).toFixed(3)} ms of its own).`);
  if (!direct || !baselineDirect) {
    console.log('\n(The hops without the dev proxy: skipped, workerd\'s own port was not found; this needs `ss`.)');
    return;
  }
  const at = (port) => `http://127.0.0.1:${port}`;
  const exec = '/v1/sandboxes/bench-box/exec';
  const hops = [];
  hops.push(await measure('agent alone: `GET /v1/health` (a round trip from this client)', `${agentUrl}/v1/health`, agentHeaders, health));
  hops.push(await measure('agent alone: exec', `${agentUrl}/v1/exec`, agentHeaders));
  for (const [how, base] of [['direct', at(direct)], ['dev proxy', stack.base]]) {
    hops.push(await measure(`${how}: Worker only (\`GET /v1/health\`)`, `${base}/v1/health`, auth, health));
    hops.push(await measure(`${how}: Worker → Durable Object (\`GET .../ports\`, one storage list, no agent)`, `${base}/v1/sandboxes/bench-box/ports`, auth, health));
    hops.push(await measure(`${how}: Worker → Durable Object → agent (exec)`, `${base}${exec}`, auth));
  }
  hops.push(await measure('direct: baseline Worker → Durable Object → agent (exec)', `${at(baselineDirect)}${exec}`, {}));
  hops.push(await measure('dev proxy: baseline Worker → Durable Object → agent (exec)', `${baseline}${exec}`, {}));
  hops.push(await measure('agent alone: exec, again', `${agentUrl}/v1/exec`, agentHeaders));
  console.log('\n## Hop by hop, with and without wrangler\'s dev proxy\n');
  console.log('"direct": to the port workerd itself listens on, past the dev proxy that `wrangler dev` puts in front of it.\n');
  console.log('| path | p50 | p99 |');
  console.log('|---|---|---|');
  for (const r of hops) console.log(`| ${r.name} | ${r.p50.toFixed(3)} ms | ${r.p99.toFixed(3)} ms |`);
  const p50 = (name) => hops.find((r) => r.name.startsWith(name)).p50;
  const alone = (p50('agent alone: exec') + p50('agent alone: exec, again')) / 2;
  console.log(`\nWhole path over the agent alone at p50: direct +${(p50('direct: Worker → Durable Object → agent') - alone).toFixed(3)} ms, through the dev proxy +${(p50('dev proxy: Worker → Durable Object → agent') - alone).toFixed(3)} ms.`);
  // Without the dev proxy the two Workers' difference is small against the machine's noise: alternate them.
  const rounds = Number(process.env.BENCH_ROUNDS ?? 6);
  const runs = { rs: [], baseline: [] };
  for (let i = 0; i < rounds; i++) {
    runs.rs.push((await measure('rs', `${at(direct)}${exec}`, auth)).p50);
    runs.baseline.push((await measure('baseline', `${at(baselineDirect)}${exec}`, {})).p50);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const list = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
  console.log(`\nDirect, alternately, ${rounds} runs of ${n} each (p50): sandbox-rs ${list(runs.rs)} ms (median ${median(runs.rs).toFixed(2)}); baseline ${list(runs.baseline)} ms (median ${median(runs.baseline).toFixed(2)}): ${(median(runs.rs) / median(runs.baseline)).toFixed(2)}x.`);
}

/// The TCP ports workerd processes listen on (from `ss`; none when it is missing).
function workerdPorts() {
  try {
    const lines = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' }).split('\n');
    return new Set(lines.filter((l) => l.includes('"workerd"')).map((l) => Number(l.trim().split(/\s+/)[3].split(':').pop())));
  } catch {
    return new Set();
  }
}

/// Which of `ports` (not the dev proxy's) answers `probe` as a healthy agent does: workerd's own entry port.
async function directEntry(ports, proxies, probe, headers) {
  for (const port of ports) {
    if (proxies.includes(String(port))) continue;
    try {
      const res = await fetch(`http://127.0.0.1:${port}${probe}`, { headers, signal: AbortSignal.timeout(2000) });
      if (res.status === 200 && (await res.text()).includes('"status":"ok"')) return port;
    } catch {
      // Not an HTTP entry (the inspector, a loopback of workerd's own).
    }
  }
  return null;
}
