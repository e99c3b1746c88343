// Egress (`npm run bench:egress`): what the sandbox's proxy costs. A host of the bench's own (a network namespace
// joined by a veth pair, a Node HTTP server in it) serves a 100 MB body and a small one; a local sandbox (the
// release agent, jailed) fetches them through its egress proxy (plain HTTP, and CONNECT tunnels) and directly
// (its user-mode network, slirp4netns), beside the floor measured in the same run: the same requests from the
// host itself, with no jail. Throughput is MB/s of the 100 MB download (median and best of 9); connection setup is curl's own
// time for each of 1,000 small requests, each on a new connection, p50 and p99. Needs root (the namespace).
import { execSync, spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { agentToken, callJson, isolated, startAgent } from '../tests/e2e/stack.mjs';

if (process.getuid() !== 0 || !isolated) {
  console.error('bench:egress needs root (its own host: a network namespace) and jails (bubblewrap)');
  process.exit(1);
}
const MB = Number(process.env.BENCH_EGRESS_MB ?? 100);
const N = Number(process.env.BENCH_EGRESS_N ?? 1000);
const RUNS = Number(process.env.BENCH_EGRESS_RUNS ?? 9);
const ns = `sbx-bench-${process.pid % 10000}`;
const [near, far] = [`sbxb${process.pid % 10000}h`, `sbxb${process.pid % 10000}n`];
const addr = '10.198.7.2';
const sh = (cmd) => execSync(cmd, { stdio: ['ignore', 'pipe', 'inherit'] }).toString();

sh(`ip netns del ${ns} 2>/dev/null || true`);
sh(`ip netns add ${ns} && ip link add ${near} type veth peer name ${far} netns ${ns}`);
sh(`ip addr add 10.198.7.1/30 dev ${near} && ip link set ${near} up`);
sh(`ip -n ${ns} addr add ${addr}/30 dev ${far} && ip -n ${ns} link set ${far} up && ip -n ${ns} link set lo up`);
const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `
  const big = Buffer.alloc(1 << 20, 7);
  require('node:http').createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': ${MB} * big.length });
      let left = ${MB};
      const more = () => { while (left > 0) { left--; if (!res.write(big)) return res.once('drain', more); } res.end(); };
      more();
    } else res.end('ok');
  }).listen(8000, '${addr}');
`], { stdio: 'inherit' });
const dir = mkdtempSync(join(tmpdir(), 'sandbox-bench-egress-'));
const agent = await startAgent(join(dir, 'sandboxes'), undefined, 'release');
const base = `http://127.0.0.1:${agent.port}`;
const headers = { 'x-sandbox-id': 'bench', 'x-sandbox-agent-token': agentToken };

async function run(command) {
  const r = await callJson(base, 'POST', '/v1/exec', { command, timeout: 600_000 }, headers);
  if (r.json?.exitCode !== 0) throw new Error(`${command}: ${r.text}`);
  return r.json.stdout;
}

try {
  for (let i = 0; i < 50 && !sh(`curl -s -m 1 http://${addr}:8000/ || true`).includes('ok'); i++) await sleep(100);
  const big = `http://${addr}:8000/big`;
  const small = `http://${addr}:8000/`;
  // N requests, each on a new connection (`Connection: close`, nothing kept), curl's own time for each.
  const list = join(dir, 'urls.txt');
  writeFileSync(list, Array.from({ length: N }, () => `url = "${small}"\noutput = "/dev/null"\n`).join(''));
  await run('true');
  const inJail = '/workspace/urls.txt';
  sh(`cp ${list} ${join(dir, 'sandboxes/bench/urls.txt')}`);

  const ways = [
    ['host, no jail (floor)', '', (cmd) => sh(cmd)],
    ['jail, through the proxy', '', run],
    ['jail, proxy tunnel (CONNECT)', '-p', run],
    ['jail, direct (slirp4netns)', "--noproxy '*'", run],
  ];
  const rows = [];
  for (const [name, flags, exec] of ways) {
    const urls = exec === run ? inJail : list;
    const speeds = [];
    for (let i = 0; i < RUNS; i++) {
      const out = await exec(`curl -s ${flags} -o /dev/null -w '%{speed_download}' ${big}`);
      speeds.push(Number(out) / 1e6);
    }
    speeds.sort((a, b) => a - b);
    const [median, best] = [speeds[Math.floor(RUNS / 2)], speeds[RUNS - 1]];
    const times = (await exec(`curl -s ${flags} -H 'Connection: close' -K ${urls} -w '%{time_total}\\n'`))
      .trim().split('\n').map(Number).sort((a, b) => a - b);
    const p = (q) => (times[Math.floor(q * (times.length - 1))] * 1000).toFixed(2);
    rows.push({ name, median, best, p50: p(0.5), p99: p(0.99) });
  }
  const floor = rows[0];
  console.log(`machine: ${cpus().length} x ${cpus()[0].model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}`);
  console.log(`${MB} MB download (${RUNS} runs: median, best) and ${N} small requests, each on a new connection (curl's time, ms)\n`);
  console.log('| path | MB/s median | vs floor | MB/s best | request p50 | p99 | p50 over floor |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const pct = ((r.median / floor.median) * 100).toFixed(0);
    const over = (Number(r.p50) - Number(floor.p50)).toFixed(2);
    console.log(`| ${r.name} | ${r.median.toFixed(0)} | ${pct}% | ${r.best.toFixed(0)} | ${r.p50} | ${r.p99} | +${over} |`);
  }
} finally {
  server.kill();
  await agent.stop();
  sh(`ip netns del ${ns} 2>/dev/null || true`);
  execSync(`rm -rf ${dir}`);
}
