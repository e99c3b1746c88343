// Backups through the whole local stack (`npm run bench:backup`): save and restore of a node_modules-like tree
// (20,000 files, about 200 MB), an incremental save after one changed file, and save and restore of one 1 GB file,
// each beside the floors measured here in the same run: `tar | zstd -1` of the same bytes to /dev/null, and the
// local R2's own write and read throughput (a test hook of the Worker). The memory of the agents and of workerd is
// sampled during the 1 GB save and restore. Client → workerd → Durable Object → agent, the
// blobs through wrangler's local R2.
import { execSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { getSandbox } from '../clients/js/dist/index.js';
import { startStack } from '../tests/e2e/stack.mjs';

const FILES = Number(process.env.BENCH_FILES ?? 20_000);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 1024);
const stack = await startStack({ profile: 'release' });

/** Milliseconds `work` takes. */
async function timed(work) {
  const t0 = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result };
}

/** The floor: the directory's bytes through tar and zstd (one thread, fastest level) to /dev/null. */
function floorMs(dir) {
  const t0 = process.hrtime.bigint();
  execSync(`tar -C '${dir}' -cf - . | zstd -1 -T1 -q -c > /dev/null`, { shell: '/bin/bash' });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** What writing the directory's files costs on this disk: its `tar | zstd` archive (made first, not timed)
 * extracted into an empty folder beside it, then removed. A restore writes every file; `floorMs` writes none. */
function extractMs(dir) {
  const archive = join(tmpdir(), `sandbox-bench-floor-${process.pid}.tar.zst`);
  const into = join(tmpdir(), `sandbox-bench-floor-${process.pid}`);
  execSync(`tar -C '${dir}' -cf - . | zstd -1 -T1 -q -c > '${archive}' && mkdir '${into}' && sync`, { shell: '/bin/bash' });
  const t0 = process.hrtime.bigint();
  execSync(`zstd -dc '${archive}' | tar -C '${into}' -xf -`, { shell: '/bin/bash' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  execSync(`rm -rf '${into}' '${archive}'`);
  return ms;
}

/** Resident memory (KiB) of the processes whose command line contains `name`, read from /proc (spawning a tool
 * per sample would cost more than what it measures). */
function rssKib(name) {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name)) continue;
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {}
  }
  return total;
}

/** Samples the memory of the agents and of workerd while `work` runs; returns the peaks over the idle figures. */
async function withMemory(work) {
  const idle = { agent: rssKib('sandbox-agent'), workerd: rssKib('workerd') };
  const peak = { ...idle };
  const timer = setInterval(() => {
    peak.agent = Math.max(peak.agent, rssKib('sandbox-agent'));
    peak.workerd = Math.max(peak.workerd, rssKib('workerd'));
  }, 100);
  try {
    const result = await work();
    return { result, agentMib: (peak.agent - idle.agent) / 1024, workerdMib: (peak.workerd - idle.workerd) / 1024 };
  } finally {
    clearInterval(timer);
  }
}

const mbps = (bytes, ms) => (bytes / 1e6 / (ms / 1000)).toFixed(0);

try {
  const rows = [];
  // A tree like node_modules: 20,000 files of text from 200 B to 40 KB in 400 packages, about 200 MB.
  const tree = getSandbox({ url: stack.base }, 'bench-tree');
  const make = `const fs = require('fs'); let seed = 1; const words = [];
    for (let i = 0; i < 5000; i++) { seed = (seed * 1103515245 + 12345) % 2147483648; words.push(seed.toString(36)); }
    const text = words.join(' ').repeat(40);
    for (let i = 0; i < ${FILES}; i++) {
      const dir = '/workspace/node_modules/pkg' + (i % 400) + '/lib';
      fs.mkdirSync(dir, { recursive: true });
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const size = 200 + (seed % 20000) * (i % 10 === 0 ? 10 : 1);
      fs.writeFileSync(dir + '/f' + i + '.js', '// ' + i + '\\n' + text.slice(seed % 100000, (seed % 100000) + size));
    }`;
  const made = await tree.exec(`node -e "${make.replace(/"/g, '\\"').replace(/\n/g, ' ')}"`);
  if (made.exitCode !== 0) throw new Error(made.stderr);
  const folder = join(stack.dir, 'sandboxes', 'bench-tree');
  const treeBytes = Number(execSync(`du -sb --apparent-size '${folder}' | cut -f1`, { encoding: 'utf8' }));
  const treeFloor = floorMs(folder);
  const treeExtract = extractMs(folder);
  const full = await timed(() => tree.createBackup());
  rows.push([`save, ${full.result.files} files, ${(treeBytes / 1e6).toFixed(0)} MB`, full.ms, treeFloor, treeBytes, 'put']);
  await tree.exec('sed -i "1s/.*/\\/\\/ changed/" /workspace/node_modules/pkg7/lib/f7.js');
  const incremental = await timed(() => tree.createBackup());
  rows.push(['incremental save after one changed file', incremental.ms, null, 0, null]);
  await tree.exec('rm -rf /workspace/node_modules');
  const restore = await timed(() => tree.restoreBackup(full.result));
  rows.push([`restore of that save into an emptied workspace`, restore.ms, treeFloor, treeBytes, 'get']);

  // A forced idle stop and the wake-up: the sandbox's own idle time set to 1 s, its stop awaited (its workspace
  // saved first), its folder emptied as a new container's disk would be, then the first call timed: it starts the
  // sandbox anew and gets the save back before its command runs. Beside it, the same call to a running sandbox.
  const probe = 'head -c 12 /workspace/node_modules/pkg7/lib/f7.js';
  const warm = await timed(() => tree.exec(probe));
  const stoppedBefore = (await tree.status()).stoppedAt;
  await tree.setSleepAfter(1);
  for (const t0 = Date.now(); (await tree.status()).stoppedAt === stoppedBefore; await sleep(100)) {
    if (Date.now() - t0 > 300_000) throw new Error('no idle stop within 5 minutes');
  }
  await tree.setSleepAfter('default');
  execSync(`find '${folder}' -mindepth 1 -delete`);
  const wake = await timed(() => tree.exec(probe));
  if (wake.result.stdout !== warm.result.stdout) throw new Error(`woke without its files: ${JSON.stringify(wake.result)}`);
  rows.push(['the same command on the running sandbox', warm.ms, null, 0, null]);
  rows.push(['its first call after an idle stop, files lost (start, restore, command)', wake.ms, null, 0, null]);
  const wakeOverhead = wake.ms - warm.ms - restore.ms;

  // One large file of random bytes.
  const big = getSandbox({ url: stack.base }, 'bench-big');
  const wrote = await big.exec(`head -c ${BIG_MB}M /dev/urandom > /workspace/big.bin`);
  if (wrote.exitCode !== 0) throw new Error(wrote.stderr);
  const bigBytes = BIG_MB * 1024 * 1024;
  const bigFloor = floorMs(join(stack.dir, 'sandboxes', 'bench-big'));
  const bigSave = await withMemory(() => timed(() => big.createBackup()));
  rows.push([`save, one ${BIG_MB} MiB file`, bigSave.result.ms, bigFloor, bigBytes, 'put']);
  await big.exec('rm -f /workspace/big.bin');
  const bigRestore = await withMemory(() => timed(() => big.restoreBackup(bigSave.result.result)));
  rows.push([`restore of that file`, bigRestore.result.ms, bigFloor, bigBytes, 'get']);

  // The bucket's own floor: the same bytes written and read as 4 MiB objects by the Worker, nothing else.
  const bucket = await (await fetch(`${stack.base}/v1/_test/bucket?mb=${BIG_MB}`)).json();
  console.log('## Backups through the local stack\n');
  console.log(`Machine: ${cpus()[0].model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}; Node ${process.version}\n`);
  // A save's bytes pass through both: its floor is the slower of `tar | zstd` and the bucket's own writes (a
  // restore's, of its reads).
  const bucketMs = (bytes, way) => bytes * (way === 'put' ? bucket.putMs : bucket.getMs) / bucket.bytes;
  console.log('| operation | time | MB/s | `tar \\| zstd -1` (same bytes) | local R2 alone | over the slower floor |');
  console.log('|---|---|---|---|---|---|');
  const seconds = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
  for (const [name, ms, floor, bytes, way] of rows) {
    const rate = bytes ? mbps(bytes, ms) : '';
    if (floor === null) {
      console.log(`| ${name} | ${seconds(ms)} | ${rate} | | | |`);
      continue;
    }
    const store = bucketMs(bytes, way);
    console.log(`| ${name} | ${seconds(ms)} | ${rate} | ${seconds(floor)} (${mbps(bytes, floor)} MB/s) | ${seconds(store)} (${mbps(bytes, store)} MB/s) | ${(ms / Math.max(floor, store)).toFixed(2)}x |`);
  }
  console.log(`\nThe local R2's own floor, in the same run (${(bucket.bytes / 2 ** 20).toFixed(0)} MiB as 4 MiB objects, from the Worker): writes ${mbps(bucket.bytes, bucket.putMs)} MB/s, reads ${mbps(bucket.bytes, bucket.getMs)} MB/s.`);
  console.log(`\nWriting the tree's files on this disk (its archive extracted into an empty folder, \`zstd -d | tar -x\`): ${(treeExtract / 1000).toFixed(2)} s; the restore is ${(restore.ms / treeExtract).toFixed(2)}x that.`);
  console.log(`\nThe wake-up's cost beyond the restore of the same tree (${(restore.ms / 1000).toFixed(2)} s above) and the command itself: ${wakeOverhead.toFixed(0)} ms.`);
  console.log(`\nMemory above idle during the ${BIG_MB} MiB save: agents +${bigSave.agentMib.toFixed(0)} MiB, workerd +${bigSave.workerdMib.toFixed(0)} MiB; during its restore: agents +${bigRestore.agentMib.toFixed(0)} MiB, workerd +${bigRestore.workerdMib.toFixed(0)} MiB.`);
} finally {
  await stack.stop();
}
