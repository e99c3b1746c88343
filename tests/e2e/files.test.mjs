// Files through the whole path (the JavaScript client, the Worker, the Durable Object, the agent): any size
// streamed both ways byte-exact, read in ranges, an upload cut off half way leaving the old file whole; and
// repositories checked out; a directory watched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { getSandbox, collectFile, streamFile, SandboxError } from 'sandbox-rs';
import { execSync } from 'node:child_process';

import { containers, docker, sandboxContainers, startStack } from './stack.mjs';

const token = 'file-streams-token';
let stack;
let n = 0;

before(async () => {
  stack = await startStack({ token });
});
after(async () => {
  await stack?.stop();
});

function fresh() {
  return getSandbox({ url: stack.base, token }, `files-${process.pid}-${++n}`);
}

/** A stream of `size` bytes, each 1 MiB chunk different, hashed as it is sent; `cutAt` errors it there. */
function generated(size, { cutAt } = {}) {
  const hash = createHash('sha256');
  const block = new Uint8Array(1 << 20);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  let sent = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (cutAt !== undefined && sent >= cutAt) {
        controller.error(new Error('cut off'));
        return;
      }
      if (sent >= size) {
        controller.close();
        return;
      }
      const chunk = block.slice(0, Math.min(block.length, size - sent));
      new DataView(chunk.buffer).setUint32(0, sent / block.length);
      hash.update(chunk);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

async function sha256Of(stream) {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of streamFile(stream)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: hash.digest('hex'), size };
}

async function eventually(check, limitMs) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('streamed files', () => {
  // 1 GiB on the local stack; a containers run (the same suite through Docker) moves 256 MiB each way.
  const size = containers ? 256 << 20 : 1 << 30;

  test(`${size >> 20} MiB up and down through the Worker, byte-exact by sha256`, async () => {
    const sandbox = fresh();
    const up = generated(size);
    const written = await sandbox.writeFile('/workspace/big/data.bin', up.stream);
    assert.deepEqual([written.success, written.size, written.path], [true, size, '/workspace/big/data.bin']);
    const sent = up.digest();
    const inside = await sandbox.exec('sha256sum /workspace/big/data.bin | cut -d" " -f1');
    assert.equal(inside.stdout, sent, 'the file in the sandbox is what was sent');
    const down = await sha256Of(await sandbox.readFileStream('/workspace/big/data.bin'));
    assert.deepEqual(down, { digest: sent, size }, 'what comes back is what was sent');
  });

  test('a range, as a stream and in readFile, and one past the end refused', async () => {
    const sandbox = fresh();
    const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
    await sandbox.writeFile('/workspace/r.bin', bytes);
    const part = await collectFile(await sandbox.readFileStream('/workspace/r.bin', { offset: 1000, length: 5000 }));
    assert.deepEqual(part, bytes.slice(1000, 6000));
    const read = await sandbox.readFile('/workspace/r.bin', { offset: 299_990, length: 100, encoding: 'base64' });
    assert.deepEqual(new Uint8Array(Buffer.from(read.content, 'base64')), bytes.slice(299_990));
    await assert.rejects(sandbox.readFileStream('/workspace/r.bin', { offset: 300_000 }), (e) => e instanceof SandboxError && e.code === 'RANGE_NOT_SATISFIABLE' && e.status === 416);
    await assert.rejects(sandbox.readFileStream('/workspace/none'), (e) => e.code === 'FILE_NOT_FOUND');
  });

  test('an upload cut off half way leaves the old file and no temporary behind', async () => {
    const sandbox = fresh();
    await sandbox.writeFile('/workspace/keep.txt', 'the old content');
    const cut = generated(64 << 20, { cutAt: 8 << 20 });
    await assert.rejects(sandbox.writeFile('/workspace/keep.txt', cut.stream));
    const left = async () => (await sandbox.listFiles('/workspace', { includeHidden: true })).files.map((f) => f.name);
    assert.ok(await eventually(async () => (await left()).every((name) => !name.includes('partial')), 40_000), `left behind: ${await left()}`);
    assert.equal((await sandbox.readFile('/workspace/keep.txt')).content, 'the old content');
  });

  test('a session reads and writes streams from its own directory', async () => {
    const sandbox = fresh();
    const session = await sandbox.createSession({ id: 'in-sub', cwd: '/workspace/sub' });
    const written = await session.writeFile('notes.bin', new Uint8Array([1, 2, 3]));
    assert.equal(written.path, '/workspace/sub/notes.bin');
    assert.deepEqual(await collectFile(await session.readFileStream('notes.bin')), new Uint8Array([1, 2, 3]));
  });
});

/** A repository at `dir` in the sandbox: `main` with a.txt, `dev` with d.txt too. */
const REPOSITORY = (dir) => `mkdir -p ${dir} && cd ${dir} && git init -q && git checkout -qb main && echo hi > a.txt &&
  git add . && git -c user.name=t -c user.email=t@t commit -qm one && git checkout -qb dev && echo d > d.txt &&
  git add . && git -c user.name=t -c user.email=t@t commit -qm dev && git checkout -q main && cd /workspace`;

describe('gitCheckout', () => {
  test('clones a repository in the sandbox with a branch and a depth; git\'s failures are typed', async () => {
    const sandbox = fresh();
    const made = await sandbox.exec(REPOSITORY('/workspace/origin'));
    assert.equal(made.exitCode, 0, made.stderr);
    // (git honours a depth over file://; a plain path is cloned whole.)
    const cloned = await sandbox.gitCheckout('file:///workspace/origin', { branch: 'dev', depth: 1, targetDir: '/workspace/clone' });
    assert.deepEqual([cloned.success, cloned.branch, cloned.targetDir], [true, 'dev', '/workspace/clone']);
    assert.equal((await sandbox.readFile('/workspace/clone/d.txt')).content, 'd\n');
    assert.equal((await sandbox.exec('git -C /workspace/clone rev-list --count HEAD')).stdout, '1');
    // Named after the repository, in the session's directory, on its default branch.
    const session = await sandbox.createSession({ id: 'git', cwd: '/workspace/sub' });
    const byDefault = await session.gitCheckout('/workspace/origin');
    assert.deepEqual([byDefault.branch, byDefault.targetDir], ['main', '/workspace/sub/origin']);
    await assert.rejects(sandbox.gitCheckout('/workspace/origin', { targetDir: '/workspace/clone' }), (e) => e.code === 'FILE_EXISTS' && e.status === 409);
    await assert.rejects(sandbox.gitCheckout('/workspace/none', { targetDir: '/workspace/x' }), (e) => e.code === 'GIT_REPOSITORY_NOT_FOUND' && e.status === 404);
    await assert.rejects(sandbox.gitCheckout('/workspace/origin', { branch: 'nope', targetDir: '/workspace/y' }), (e) => e.code === 'GIT_BRANCH_NOT_FOUND');
    await assert.rejects(sandbox.gitCheckout('--upload-pack=touch /workspace/pwned', { targetDir: '/workspace/z' }), (e) => e.code === 'VALIDATION_FAILED');
    assert.equal((await sandbox.exists('/workspace/pwned')).exists, false);
  });
});

/** The inotify instances open in the sandboxes' agents: the jailed agents' (local) or the sandbox container's PID 1. */
function inotifyInstances(sandboxId) {
  if (containers) {
    const container = sandboxContainers().find((c) => c.id === sandboxId && c.state === 'running');
    return Number(docker('exec', container.name, 'sh', '-c', 'ls -l /proc/1/fd | grep -c inotify || true'));
  }
  const pids = execSync("pgrep -f '^/run/sandbox-agent/agent' || true").toString().split('\n').filter(Boolean);
  let count = 0;
  for (const pid of pids) {
    try {
      count += Number(execSync(`ls -l /proc/${pid}/fd 2>/dev/null | grep -c inotify || true`).toString().trim());
    } catch {}
  }
  return count;
}

const name = (p) => p?.split('/').pop();

describe('watch', () => {
  test('create, modify, rename and delete arrive in order; leaving the loop ends the watch in the sandbox', async () => {
    const sandbox = fresh();
    await sandbox.mkdir('/workspace/w', { recursive: true });
    const before = inotifyInstances(sandbox.id);
    const watch = await sandbox.watch('/workspace/w');
    assert.deepEqual([watch.ready.type, watch.ready.path, watch.ready.isDirectory], ['ready', '/workspace/w', true]);
    assert.equal(inotifyInstances(sandbox.id), before + 1);
    await sandbox.exec('cd /workspace/w && echo one > a.txt && echo two >> a.txt && mv a.txt b.txt && rm b.txt');
    const seen = [];
    for await (const event of watch) {
      const shown = event.oldPath ? `${event.type} ${name(event.oldPath)}>${name(event.path)}` : `${event.type} ${name(event.path)}`;
      if (seen.at(-1) !== shown) seen.push(shown);
      if (event.type === 'delete') break;
    }
    assert.deepEqual(seen, ['create a.txt', 'modify a.txt', 'rename a.txt>b.txt', 'delete b.txt']);
    assert.ok(await eventually(() => inotifyInstances(sandbox.id) === before, 10_000), 'the agent closed the watch once the loop was left');
  });

  test('a recursive watch with filters, a burst of 10,000 writes reported or said to overflow, a missing path refused', async () => {
    const sandbox = fresh();
    await sandbox.mkdir('/workspace/r/node_modules', { recursive: true });
    const watch = await sandbox.watch('/workspace/r', { recursive: true, include: ['*.js'], exclude: ['node_modules'] });
    await sandbox.exec('cd /workspace/r && mkdir -p src/lib && for i in $(seq 10000); do echo x > src/lib/f$i.js; done; echo x > node_modules/m.js; echo x > src/n.txt; echo x > src/end.js');
    let creates = 0;
    let overflowed = false;
    const paths = new Set();
    for await (const event of watch) {
      if (event.type === 'overflow') overflowed = true;
      if (event.type === 'create' && /\/f\d+\.js$/.test(event.path)) creates++;
      paths.add(event.path);
      if (event.path.endsWith('/src/end.js')) break;
    }
    assert.ok(overflowed || creates >= 10_000, `every file or an overflow: ${creates} creates`);
    assert.ok([...paths].every((p) => p.endsWith('.js') && !p.includes('node_modules')), 'only what the filters let through');
    await assert.rejects(sandbox.watch('/workspace/nowhere'), (e) => e.code === 'FILE_NOT_FOUND' && e.status === 404);
  });

  test('checkChanges answers what changed since a cursor, for callers that cannot hold a stream', async () => {
    const sandbox = fresh();
    await sandbox.mkdir('/workspace/c', { recursive: true });
    const first = await sandbox.checkChanges('/workspace/c');
    assert.deepEqual([first.changes, first.overflow, first.path], [[], false, '/workspace/c']);
    await sandbox.exec('echo x > /workspace/c/new.txt');
    let later;
    // checkChanges is asked now and then by nature: ask until the change is there.
    assert.ok(await eventually(async () => {
      later = await sandbox.checkChanges('/workspace/c', { since: first.cursor });
      return later.changes.some((e) => e.type === 'create' && e.path === '/workspace/c/new.txt');
    }, 10_000), JSON.stringify(later));
    assert.equal(later.overflow, false);
    const again = await sandbox.checkChanges('/workspace/c', { since: later.cursor });
    assert.deepEqual(again.changes, []);
  });
});
