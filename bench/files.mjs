// Files through the whole local stack (`npm run bench:files`): a 1 GiB file read and written through the agent
// alone and through the whole path (workerd → Worker → Durable Object → agent), by curl and by the JavaScript
// client (and the agent alone as it runs in a container, without local mode's relay to a jailed agent), beside the
// floor measured in the same run: curl of the same file from a static server on loopback (and
// the disk's own write of it). The memory of the agents and of workerd is sampled during each transfer. Then the
// latency from a write in the sandbox to its event at a watching client, p50 and p99.
import { execSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import { getSandbox, streamFile } from '../clients/js/dist/index.js';
import { freePort, startStack } from '../tests/e2e/stack.mjs';

const MB = Number(process.env.BENCH_FILE_MB ?? 1024);
const BYTES = MB * 1024 * 1024;
const WATCH_N = Number(process.env.BENCH_WATCH_N ?? 300);
const dir = `/tmp/sandbox-bench-files-${process.pid}`;
const file = `${dir}/big.bin`;
execSync(`mkdir -p ${dir} && head -c ${BYTES} /dev/urandom > ${file}`);
const stack = await startStack({ profile: 'release' });
const token = undefined;

/** The processes whose command line contains `name`. */
function pidsOf(name) {
  return readdirSync('/proc').filter((entry) => {
    try {
      return /^\d+$/.test(entry) && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(name);
    } catch {
      return false;
    }
  });
}

/** Their resident memory (KiB). */
function rssKib(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {}
  }
  return total;
}

/** `work`'s time (after a `sync`), and the peak memory of the agents and of workerd over their idle figures during it. The
 * processes are found once, and sampled every 100 ms: the client's own transfers share this event loop. */
async function measured(work) {
  // Each row starts with nothing of the previous one's writes still to be flushed (it would slow this one).
  execSync('sync');
  const pids = { agent: pidsOf('sandbox-agent'), workerd: pidsOf('workerd') };
  const idle = { agent: rssKib(pids.agent), workerd: rssKib(pids.workerd) };
  const peak = { ...idle };
  const timer = setInterval(() => {
    peak.agent = Math.max(peak.agent, rssKib(pids.agent));
    peak.workerd = Math.max(peak.workerd, rssKib(pids.workerd));
  }, 100);
  const t0 = process.hrtime.bigint();
  try {
    await work();
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, agentMib: (peak.agent - idle.agent) / 1024, workerdMib: (peak.workerd - idle.workerd) / 1024 };
  } finally {
    clearInterval(timer);
  }
}

/** Runs `command` without blocking the event loop (a blocked loop leaves the client's kept-alive connections
 * unattended, and the dev server's close of an idle one unseen until a request is sent on it). */
const sh = (command) =>
  new Promise((ok, fail) => {
    const child = spawn('/bin/bash', ['-c', command], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`${command}: exit ${code}`))));
  });
const rate = (ms) => (BYTES / 1e6 / (ms / 1000)).toFixed(0);
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

const staticPort = await freePort();
const server = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', String(staticPort)], { cwd: dir, stdio: 'ignore' });
try {
  for (let i = 0; ; i++) {
    try {
      execSync(`curl -sf -o /dev/null http://127.0.0.1:${staticPort}/`);
      break;
    } catch {
      if (i > 100) throw new Error('the static server did not start');
      await sleep(100);
    }
  }
  const sandbox = getSandbox({ url: stack.base, token }, 'bench-files');
  await sandbox.exec('true');
  const agent = `http://127.0.0.1:${stack.agent.port}/v1/files/content`;
  const agentHeaders = `-H 'x-sandbox-id: bench-files' -H 'x-sandbox-agent-token: ${stack.agentToken}'`;
  const worker = `${stack.base}/v1/sandboxes/bench-files/files/content`;
  const octets = `-H 'content-type: application/octet-stream'`;
  const rows = [];
  const row = (name, m) => rows.push({ name, ...m });

  row('floor: curl from a static server on loopback (read)', await measured(() => sh(`curl -sf -o /dev/null http://127.0.0.1:${staticPort}/big.bin`)));
  row('floor: the disk writes the file (cat > file; sync)', await measured(() => sh(`cat ${file} > ${dir}/copy.bin && sync ${dir}/copy.bin`)));
  rmSync(`${dir}/copy.bin`);
  row('agent alone: write (curl -T, declared length)', await measured(() => sh(`curl -sf -o /dev/null -T ${file} ${octets} ${agentHeaders} '${agent}?path=/workspace/big.bin'`)));
  row('agent alone: read (curl)', await measured(() => sh(`curl -sf -o /dev/null ${agentHeaders} '${agent}?path=/workspace/big.bin'`)));
  // The agent as it runs in a container: one agent, no host agent relaying to a jailed one as local mode has.
  const soloPort = await freePort();
  const soloDir = `${dir}/solo`;
  execSync(`mkdir -p ${soloDir}`);
  const solo = spawn('target/release/sandbox-agent', ['--listen', `127.0.0.1:${soloPort}`, '--workspace', soloDir], { stdio: 'ignore' });
  try {
    for (let i = 0; ; i++) {
      try {
        execSync(`curl -sf -o /dev/null http://127.0.0.1:${soloPort}/v1/health`);
        break;
      } catch {
        if (i > 100) throw new Error('the agent did not start');
        await sleep(100);
      }
    }
    const soloUrl = `http://127.0.0.1:${soloPort}/v1/files/content?path=big.bin`;
    row('agent alone as in a container (no local relay): write', await measured(() => sh(`curl -sf -o /dev/null -T ${file} ${octets} '${soloUrl}'`)));
    row('agent alone as in a container (no local relay): read', await measured(() => sh(`curl -sf -o /dev/null '${soloUrl}'`)));
  } finally {
    solo.kill();
  }
  row('whole path: write (curl -T, declared length)', await measured(() => sh(`curl -sf -o /dev/null -T ${file} ${octets} '${worker}?path=/workspace/big2.bin'`)));
  row('whole path: read (curl)', await measured(() => sh(`curl -sf -o /dev/null '${worker}?path=/workspace/big.bin'`)));
  // 1 MiB of the file's bytes, copied out (a `Buffer`'s `slice` is a view of the whole file's buffer).
  const block = new Uint8Array(readFileSync(file).subarray(0, 1 << 20));
  row('whole path: write, JS client (a ReadableStream, framed)', await measured(async () => {
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent >= BYTES) return controller.close();
        sent += block.length;
        controller.enqueue(block.slice());
      },
    });
    await sandbox.writeFile('/workspace/big3.bin', stream);
  }));
  row('whole path: read, JS client (readFileStream)', await measured(async () => {
    let n = 0;
    for await (const chunk of streamFile(await sandbox.readFileStream('/workspace/big.bin'))) n += chunk.length;
    if (n !== BYTES) throw new Error(`read ${n} bytes`);
  }));

  // Watch latency: a process in the sandbox creates a file named after the time (ns, the host's clock: a local
  // sandbox shares it) every 20 ms; the client notes when each create event arrives.
  await sandbox.mkdir('/workspace/w', { recursive: true });
  const watch = await sandbox.watch('/workspace/w');
  const writer = await sandbox.startProcess(`for i in $(seq ${WATCH_N}); do : > /workspace/w/$(date +%s%N); sleep 0.02; done`);
  const latencies = [];
  for await (const event of watch) {
    const arrived = (performance.timeOrigin + performance.now()) * 1e6;
    if (event.type !== 'create') continue;
    latencies.push((arrived - Number(event.path.split('/').pop())) / 1e6);
    if (latencies.length === WATCH_N) break;
  }
  await writer.kill();
  latencies.sort((a, b) => a - b);

  const cpu = cpus()[0]?.model ?? 'unknown';
  console.log(`\nMachine: ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}; Node ${process.version}`);
  console.log(`A ${MB} MiB file of random bytes; the release agent; wrangler dev.\n`);
  console.log('| path | time | MB/s | agents\' memory over idle | workerd\'s memory over idle |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${(r.ms / 1000).toFixed(2)} s | ${rate(r.ms)} | ${r.agentMib.toFixed(1)} MiB | ${r.workerdMib.toFixed(1)} MiB |`);
  }
  const ms = (prefix) => rows.find((r) => r.name.startsWith(prefix)).ms;
  const share = (floor, it) => `${((ms(floor) / ms(it)) * 100).toFixed(0)}%`;
  console.log(`\nThe agent alone (local mode) reads at ${share('floor: curl', 'agent alone: read')} and writes at ${share('floor: the disk', 'agent alone: write')} of the floors' throughput; as in a container, ${share('floor: curl', 'agent alone as in a container (no local relay): read')} and ${share('floor: the disk', 'agent alone as in a container (no local relay): write')}.`);
  console.log(`\nWatch: a create in the sandbox to its event at the client (n = ${latencies.length}): p50 ${quantile(latencies, 0.5).toFixed(2)} ms, p99 ${quantile(latencies, 0.99).toFixed(2)} ms.`);
} finally {
  server.kill();
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
