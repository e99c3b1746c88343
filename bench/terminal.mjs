// Keystroke to echo on a terminal: one key sent on the WebSocket until its echo comes back, through the whole local
// path (client → workerd (`wrangler dev`) → Worker → Durable Object → agent → bash's readline) and at the agent
// alone, p50/p99, in one run. Run with `npm run bench:terminal` (builds the release agent and the Worker first).
import { cpus, totalmem, release } from 'node:os';

import { openWebSocket, startStack } from '../tests/e2e/stack.mjs';

const n = Number(process.env.BENCH_N ?? 2000);
const token = 'bench';
const stack = await startStack({ token, profile: 'release' });

/// Types `n` keys at the prompt one at a time, each timed from its send to the first byte of its echo; every 40
/// keys the line is cleared (Ctrl-U, its redraw left to settle, not timed).
async function measure(name, base, path, headers) {
  const ws = await openWebSocket(base, path, headers);
  if (ws.refused) throw new Error(`${name}: ${ws.refused} ${ws.body}`);
  await ws.text(); // ready
  ws.send('PS1="$ "\r');
  await ws.until('$ ');
  await settle(ws);
  const samples = [];
  const warmup = n / 10;
  for (let i = 0; i < n + warmup; i++) {
    if (i % 40 === 39) {
      ws.send('\x15');
      await settle(ws);
      continue;
    }
    const before = ws.received();
    const t0 = process.hrtime.bigint();
    ws.send('abcdefghijklmnopqrstuvwxyz'[i % 26]);
    await ws.atLeast(before + 1);
    if (i >= warmup) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ws.close();
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.round((samples.length - 1) * p)];
  return { name, p50: at(0.5), p99: at(0.99), count: samples.length };
}

/// Waits until the terminal has sent nothing for 30 ms.
async function settle(ws) {
  for (;;) {
    const seen = ws.received();
    await new Promise((ok) => setTimeout(ok, 30));
    if (ws.received() === seen) return;
  }
}

try {
  const auth = { authorization: `Bearer ${token}` };
  const agentBase = `http://127.0.0.1:${stack.agent.port}`;
  const agentHeaders = { 'x-sandbox-id': 'bench-box', 'x-sandbox-agent-token': stack.agentToken };
  // The sandbox exists (and its jail runs) before the first timed key.
  const warm = await fetch(`${stack.base}/v1/sandboxes/bench-box/exec`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ command: 'true' }),
  });
  if (warm.status !== 200) throw new Error(`exec: ${warm.status}`);
  const rows = [];
  rows.push(await measure('agent alone', agentBase, '/v1/pty?cols=80&rows=24', agentHeaders));
  rows.push(await measure('whole local path (workerd → Worker → Durable Object → agent)', stack.base, '/v1/sandboxes/bench-box/pty?cols=80&rows=24', auth));
  rows.push(await measure('agent alone, again', agentBase, '/v1/pty?cols=80&rows=24', agentHeaders));
  const alone = (rows[0].p50 + rows[2].p50) / 2;
  console.log('## Keystroke to echo on a terminal\n');
  console.log(`Machine: ${cpus()[0].model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}; Node ${process.version}\n`);
  console.log(`One key at bash's prompt to the first byte of its echo, ${rows[0].count} keys per row, one WebSocket per row.\n`);
  console.log('| path | p50 | p99 |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.p50.toFixed(3)} ms | ${r.p99.toFixed(3)} ms |`);
  console.log(`\nThe whole path adds ${(rows[1].p50 - alone).toFixed(3)} ms at p50 (${(rows[1].p50 / alone).toFixed(2)}× the agent alone).`);
} finally {
  await stack.stop();
}
