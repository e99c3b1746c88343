// `wrangler deploy --dry-run` (scripts/test-containers.sh runs this with SANDBOX_E2E_STACK=containers and the
// Docker CLI wrangler needs): everything `npm run deploy` does short of uploading. The Worker builds and bundles, its
// bindings are what the code expects, and the container image builds from container/Dockerfile as wrangler builds
// it, with the agent as its entry point.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { containers, docker } from '../e2e/stack.mjs';

const skip = !containers && 'needs SANDBOX_E2E_STACK=containers (scripts/test-containers.sh): the dry run builds the image';
const root = join(import.meta.dirname, '..', '..');
/** The tag wrangler gives the image it builds for deploy: `<worker>-<class>:worker`. */
const IMAGE = 'sandbox-rs-sandbox:worker';
const outdir = mkdtempSync(join(tmpdir(), 'sandbox-dry-run-'));

after(() => {
  rmSync(outdir, { recursive: true, force: true });
  if (!skip) spawnSync('docker', ['rmi', '-f', IMAGE]);
});

test('wrangler deploy --dry-run builds the Worker and the container image', { skip }, () => {
  const run = spawnSync(join(root, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false' },
    timeout: 900_000,
  });
  const output = run.stdout + run.stderr;
  assert.equal(run.status, 0, output.slice(-3000));
  assert.match(output, /env\.SANDBOX \(Sandbox\)\s+Durable Object/);
  assert.match(output, /- sandbox-rs-sandbox \(.*container\/Dockerfile\)/);
  assert.match(output, /--dry-run: exiting now/);
  const files = readdirSync(outdir);
  assert.ok(files.some((f) => f.endsWith('.wasm')), files.join(' '));
  assert.ok(files.includes('entry.js'), files.join(' '));
  // The image runs the agent.
  assert.equal(docker('run', '--rm', IMAGE, '--version').trim(), 'sandbox-agent 0.1.0');
});
