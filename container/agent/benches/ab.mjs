// Two agent binaries side by side in one run, interleaved in rounds over one keep-alive connection each:
// `exec true` (with the floor of ../shared/tools/exec_floor.rs beside them when AB_FLOOR names its binary), or
// with AB_LIST=1 a listFiles of 10,000 entries. Usage: node ab.mjs BEFORE_BINARY AFTER_BINARY
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function start(bin) {
  const dir = mkdtempSync(join(tmpdir(), 'ab-'));
  if (process.env.AB_LIST) { mkdirSync(join(dir, 'many')); for (let i = 0; i < 10000; i++) writeFileSync(join(dir, 'many', `file-${i}.txt`), 'x'); }
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--workspace', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve) => {
    child.stdout.once('data', (d) => {
      const addr = String(d).split('http://')[1].split(/\s/)[0];
      const [host, port] = addr.split(':');
      resolve({ child, host, port: Number(port), agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) });
    });
  });
}
function exec(a) {
  const body = JSON.stringify(process.env.AB_LIST ? { path: 'many' } : { command: 'true' });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: a.host, port: a.port, path: process.env.AB_LIST ? '/v1/files/list' : '/v1/exec', method: 'POST', agent: a.agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume(); res.on('end', resolve);
    });
    req.on('error', reject); req.end(body);
  });
}
const bins = { before: process.argv[2], after: process.argv[3] };
const agents = { before: await start(bins.before), after: await start(bins.after) };
const names = ['before', 'after'];
let floorChild;
if (!process.env.AB_LIST && process.env.AB_FLOOR) {
  floorChild = spawn(process.env.AB_FLOOR, ['18777'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  agents.floor = { host: '127.0.0.1', port: 18777, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
  names.push('floor');
}
const samples = { before: [], after: [], floor: [] };
for (const name of names) for (let i = 0; i < (process.env.AB_LIST ? 5 : 200); i++) await exec(agents[name]);
for (let round = 0; round < 10; round++) {
  for (const name of round % 2 ? [...names].reverse() : names) {
    for (let i = 0; i < (process.env.AB_LIST ? 10 : 300); i++) {
      const t0 = process.hrtime.bigint();
      await exec(agents[name]);
      samples[name].push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
}
const pct = (s, p) => { const x = [...s].sort((a, b) => a - b); return x[Math.round((x.length - 1) * p)].toFixed(0); };
for (const name of names) console.log(`${name.padEnd(7)} ${process.env.AB_LIST ? 'listFiles 10k' : 'exec true'}: p50 ${pct(samples[name], 0.5)} us  p90 ${pct(samples[name], 0.9)} us  p99 ${pct(samples[name], 0.99)} us  (n=${samples[name].length})`);
for (const a of Object.values(agents)) a.child?.kill();
floorChild?.kill();
process.exit(0);
