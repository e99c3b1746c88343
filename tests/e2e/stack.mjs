// Starts the local stack for end-to-end tests: the real agent (multi-sandbox mode) and the real Worker under
// `wrangler dev` (workerd), on free loopback ports, and stops both afterwards.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

function freePort() {
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

export async function startAgent(dir, port, profile = 'debug') {
  port ??= await freePort();
  const agent = spawn(join(root, `target/${profile}/sandbox-agent`), ['--listen', `127.0.0.1:${port}`, '--multi-sandbox', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
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

/// The whole stack. `token` is set as SANDBOX_API_TOKEN; `profile` picks the agent build (debug or release).
export async function startStack({ token, profile = 'debug' }) {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-e2e-'));
  let agent = await startAgent(join(dir, 'sandboxes'), undefined, profile);
  const port = await freePort();
  const wrangler = spawn(
    join(root, 'node_modules/.bin/wrangler'),
    [
      'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', join(dir, 'wrangler'),
      '--var', `SANDBOX_AGENT_URL:http://127.0.0.1:${agent.port}`, '--var', `SANDBOX_API_TOKEN:${token}`,
      '--var', 'SANDBOX_TEST_HOOKS:1',
      '--show-interactive-dev-session=false', '--log-level', 'warn',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', CI: 'true' },
      detached: true,
    },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/v1/health`, { authorization: `Bearer ${token}` }, 120_000);
  return {
    base,
    get agent() {
      return agent;
    },
    dir,
    /// Kills the agent and starts a new one on the same port and folder (its sessions are gone).
    async restartAgent() {
      await agent.stop();
      agent = await startAgent(join(dir, 'sandboxes'), agent.port, profile);
    },
    async stop() {
      await new Promise((ok) => {
        if (wrangler.exitCode !== null) return ok();
        wrangler.once('exit', () => ok());
        try { process.kill(-wrangler.pid, 'SIGTERM'); } catch { ok(); }
        setTimeout(() => { try { process.kill(-wrangler.pid, 'SIGKILL'); } catch {} }, 5000).unref();
      });
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
