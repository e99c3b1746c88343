// The Rust client from a native program (clients/rust/examples/native.rs, built by `cargo test` with the feature
// `native`), by URL with a token, against the real local stack: the docs example, a stream stopped by its id, and
// a typed error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

import { startStack } from './stack.mjs';

const root = resolve(import.meta.dirname, '../..');
const token = 'native-token-789';
let stack;

before(async () => {
  stack = await startStack({ token });
});
after(async () => {
  await stack?.stop();
});

test('a native Rust program runs the docs example, stops a streamed command by its id and by dropping it, and follows a process', () => {
  const run = spawnSync(join(root, 'target/debug/examples/native'), [stack.base, token], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.stdout, 'secret-key');
  assert.equal(report.path, '/workspace/analysis');
  const { events } = report;
  assert.deepEqual(events.map((e) => e.type), ['start', 'stdout', 'complete'], JSON.stringify(report.events));
  assert.equal(events[1].data, 'started\n');
  assert.equal(events[2].exitCode, 130);
  assert.deepEqual(report.missing, { code: 'SESSION_NOT_FOUND', status: 404 });
  const { process } = report;
  assert.equal(process.ready, 'ready secret-key');
  assert.match(process.lines, /^ready secret-key\ntick\ntick\n/);
  assert.deepEqual([process.status, process.signal, process.gone], ['killed', 'SIGINT', true], 'get_process of an unknown id is None');
  // Dropping a stream after its first output stopped its command: the next one ran at once and found no file.
  assert.equal(report.afterDrop, 'stopped');
  const { ports } = report;
  assert.match(ports.url, new RegExp(`^http://8123-native-example-[a-z0-9]{16}\\.localhost:${new URL(stack.base).port}/$`));
  assert.deepEqual([ports.name, ports.listed, ports.after], ['web', 1, 0]);
  assert.deepEqual(report.backups, {
    name: 'native', files: true, content: 'saved', listed: 1, gone: 'BACKUP_NOT_FOUND',
    fork: ['native-example-fork', 'saved', 'saved'],
  });
  // 40 MiB streamed up in chunks of 1 MiB (chunk i all bytes i) and down again; a failing stream changed nothing.
  assert.deepEqual(report.streams, { written: 40 << 20, read: 40 << 20, sum: 780 * (1 << 20), cut: true, tail: 'Jycn' });
  assert.deepEqual(report.watched, { ready: 'ready', created: ['create', '/workspace/watched/new.txt'], since: '/workspace/watched/later.txt' });
  assert.deepEqual(report.git, { branch: 'trunk', target: '/workspace/repo-clone' });
  const listed = stack.containers || !stack.isolated
    ? { refused: 'EGRESS_UNAVAILABLE' }
    : { allow: ['api.example.com'], internet: false, enforced: true };
  const secret = stack.containers || !stack.isolated ? { refused: 'EGRESS_UNAVAILABLE' } : { placeholder: true, left: 0 };
  assert.deepEqual(report.network, { listed, open: true, secret });
  assert.deepEqual(report.sleep, { kept: true, own: [true, 90_000, false], default: true, refused: 'VALIDATION_FAILED' });
});
