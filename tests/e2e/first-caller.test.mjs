// A new user's first caller, done exactly as the README says and nothing more: the local stack is `npm run dev`
// (scripts/dev.sh, on free ports, its state in a folder of the test's); the caller is in a folder outside the
// repository, made by the shell lines, wrangler.toml and src/index.js of the README's "Calling it from another
// Worker" (the client installed from this clone), and runs under plain `wrangler dev`. Both find each other on
// wrangler's default dev registry, under the test's own home. The caller connects and answers with what the docs
// page prints. (Skipped with containers: `npm run dev -- --containers` is another stack, tested elsewhere.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { containers, freePort, homeEnv, stopGroup, waitFor, wranglerDev } from './stack.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// The user's home (wrangler's default registry is under it), the folder they make their caller in, the stack's state.
const home = mkdtempSync(join(tmpdir(), 'sandbox-home-'));
const outside = mkdtempSync(join(tmpdir(), 'sandbox-user-'));
const state = mkdtempSync(join(tmpdir(), 'sandbox-state-'));
// As the user's shell has it, but for the home.
const userEnv = { ...process.env, ...homeEnv(home) };
delete userEnv.WRANGLER_REGISTRY_PATH;
const running = [];

after(async () => {
  await Promise.all(running.map(stopGroup));
  for (const dir of [home, outside, state]) rmSync(dir, { recursive: true, force: true });
});

/// The fenced blocks of the README's section `title`, by language, in order.
function readmeBlocks(title) {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `the README has no section ${title}`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = {};
  for (const [, lang, body] of section.matchAll(/```(\w+)\n([\s\S]*?)```/g)) (blocks[lang] ??= []).push(body);
  return blocks;
}

test("npm run dev, and a caller set up in a folder of its own as the README says, connects and runs the docs page's code", { skip: containers && 'the containers stack is tested elsewhere' }, async () => {
  const [port, agentPort] = [await freePort(), await freePort()];
  const dev = spawn('bash', ['scripts/dev.sh'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...userEnv, PORT: String(port), AGENT_PORT: String(agentPort), SANDBOX_STATE_DIR: state },
    detached: true,
  });
  running.push(dev);
  await waitFor(`http://127.0.0.1:${port}/v1/health`, {}, 600_000, dev);

  const blocks = readmeBlocks('Calling it from another Worker');
  const [shell, toml, js] = [blocks.sh?.[0], blocks.toml?.[0], blocks.js?.[0]];
  assert.ok(shell && toml && js, 'the section has its shell, wrangler.toml and src/index.js blocks');
  // The shell lines, with the clone's path; no registry is reached (the package is a local folder).
  const made = spawnSync('bash', ['-euo', 'pipefail', '-c', shell.replaceAll('/path/to/sandbox-rs', root)], {
    cwd: outside,
    encoding: 'utf8',
    env: { ...userEnv, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_offline: 'true' },
  });
  assert.equal(made.status, 0, `${made.stdout}\n${made.stderr}`);
  const folder = join(outside, 'my-caller');
  writeFileSync(join(folder, 'wrangler.toml'), toml);
  mkdirSync(join(folder, 'src'));
  writeFileSync(join(folder, 'src', 'index.js'), js);

  // Plain `wrangler dev` in that folder: no registry path, no other option.
  const callerPort = await freePort();
  const caller = wranglerDev({ cwd: folder, port: callerPort, registry: { home }, persist: join(state, 'caller') });
  running.push(caller);
  const base = `http://127.0.0.1:${callerPort}`;
  await waitFor(`${base}/__ready`, {}, 300_000, caller);
  const res = await fetch(base);
  const body = await res.text();
  assert.equal(res.status, 200, body);
  const { stdout, files } = JSON.parse(body);
  assert.equal(stdout, 'secret-key');
  assert.ok(Array.isArray(files), body);
});
