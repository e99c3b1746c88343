// The JavaScript client (clients/js, imported as the package `sandbox-rs`) against the real local stack, reached
// by URL with a token: every method, its options and results, typed errors, streaming and cancellation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  getSandbox, parseSSEStream, LIMITS, ContainerUnavailableError, SandboxError, SessionAlreadyExistsError,
  SessionNotFoundError, FileNotFoundError, UnauthorizedError, ValidationError,
} from 'sandbox-rs';
import { openWebSocket, startStack } from './stack.mjs';

const token = 'client-token-456';
let stack;
let n = 0;

before(async () => {
  stack = await startStack({ token });
});
after(async () => {
  await stack?.stop();
});

/// A fresh sandbox per test.
function fresh() {
  return getSandbox({ url: stack.base, token }, `client-${process.pid}-${++n}`);
}

async function eventually(check, limitMs = 5000) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('exec', () => {
  test('results carry the SDK fields and exact output', async () => {
    const sandbox = fresh();
    const r = await sandbox.exec('printf "a\\nb\\n"; echo err >&2; exit 3');
    assert.equal(r.stdout, 'a\nb');
    assert.equal(r.stderr, 'err');
    assert.equal(r.exitCode, 3);
    assert.equal(r.success, false);
    assert.equal(r.command, 'printf "a\\nb\\n"; echo err >&2; exit 3');
    assert.equal(r.sessionId, 'default');
    assert.equal(typeof r.duration, 'number');
    assert.ok(!Number.isNaN(Date.parse(r.timestamp)));
    const bytes = await sandbox.exec('printf "\\x00\\xff"', { encoding: 'base64' });
    assert.equal(bytes.stdout, 'AP8=');
  });

  test('per-command env and cwd apply to that command only; timeout kills it', async () => {
    const sandbox = fresh();
    await sandbox.mkdir('/workspace/sub');
    // (Locally, the shell sees the host's path of the sandbox's workspace.)
    const r = await sandbox.exec('echo "$X $(pwd)"', { env: { X: 'it\'s $literal' }, cwd: '/workspace/sub' });
    assert.match(r.stdout, /^it's \$literal \/.*\/sub$/);
    assert.match((await sandbox.exec('echo "${X-unset} $(pwd)"')).stdout, /^unset \/.*[^b]$/);
    const slow = await sandbox.exec('sleep 5; echo never', { timeout: 200 });
    assert.equal(slow.timedOut, true);
    assert.equal(slow.ended, 'timedOut');
    assert.equal(slow.stdout, '');
    const own = await sandbox.exec('exit 124', { timeout: 5000 });
    assert.deepEqual([own.exitCode, own.ended, own.timedOut], [124, 'exited', false]);
    assert.ok(slow.duration < 3000, String(slow.duration));
  });

  test('stream: true calls onOutput as output comes, then onComplete, and resolves with all of it', async () => {
    const sandbox = fresh();
    const seen = [];
    let completed;
    const r = await sandbox.exec('echo one; sleep 0.2; echo two >&2; echo three', {
      stream: true,
      onOutput: (stream, data) => seen.push([stream, data]),
      onComplete: (result) => { completed = result; },
    });
    assert.deepEqual(seen.map(([s]) => s).sort(), ['stderr', 'stdout', 'stdout']);
    assert.equal(seen.filter(([s]) => s === 'stdout').map(([, d]) => d).join(''), 'one\nthree\n');
    assert.equal(r.stdout, 'one\nthree');
    assert.equal(r.stderr, 'two');
    assert.equal(r.exitCode, 0);
    assert.deepEqual(completed, r);
  });

  test('execStream and parseSSEStream give typed events: start, output, complete', async () => {
    const sandbox = fresh();
    const stream = await sandbox.execStream('echo hi; exit 4');
    const events = [];
    for await (const event of parseSSEStream(stream)) events.push(event);
    assert.deepEqual(events.map((e) => e.type), ['start', 'stdout', 'complete']);
    assert.equal(events[1].data, 'hi\n');
    assert.equal(events[2].exitCode, 4);
    assert.equal(events[2].result.exitCode, 4);
  });

  for (const stream of [false, true]) {
    test(`aborting the signal kills the command in the sandbox (stream: ${stream})`, async () => {
      const sandbox = fresh();
      const marker = `sleep 41.${stream ? 1 : 2}${n}`;
      const controller = new AbortController();
      const running = sandbox.exec(`${marker}; touch ran-on`, { signal: controller.signal, stream });
      // Another session looks: the default one is busy with the command.
      const probe = await sandbox.createSession();
      const pgrep = async () => (await probe.exec(`pgrep -f "${marker}" >/dev/null && echo running || echo gone`)).stdout;
      assert.ok(await eventually(async () => (await pgrep()) === 'running'), 'the command never started');
      controller.abort();
      await assert.rejects(running, { name: 'AbortError' });
      assert.ok(await eventually(async () => (await pgrep()) === 'gone'), 'the command still runs after abort');
      assert.equal((await sandbox.exec('echo next')).stdout, 'next');
      assert.equal((await sandbox.exists('/workspace/ran-on')).exists, false);
    });
  }

  test('cancelling an execStream stream, or leaving parseSSEStream early, stops the command', async () => {
    const sandbox = fresh();
    const probe = await sandbox.createSession();
    const pgrep = async (marker) => (await probe.exec(`pgrep -f "${marker}" >/dev/null && echo running || echo gone`)).stdout;
    const first = `sleep 42.${n}1`;
    const stream = await sandbox.execStream(`echo started; ${first}`);
    assert.ok(await eventually(async () => (await pgrep(first)) === 'running'));
    await stream.cancel();
    assert.ok(await eventually(async () => (await pgrep(first)) === 'gone'), 'still running after cancel');
    const second = `sleep 42.${n}2`;
    for await (const event of parseSSEStream(await sandbox.execStream(`echo started; ${second}`))) {
      if (event.type === 'stdout') break;
    }
    assert.ok(await eventually(async () => (await pgrep(second)) === 'gone'), 'still running after break');
  });
});

describe('commands in flight', () => {
  const blocking = 'touch /tmp/blocking; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo released';

  test('every command has an id; listCommands shows what runs and what waits; cancelCommand stops one; status too', async () => {
    const sandbox = fresh();
    const session = await sandbox.createSession({ id: 'work' });
    const blocker = session.exec(blocking, { timeout: 20000 });
    assert.ok(await eventually(async () => (await sandbox.exists('/tmp/blocking')).exists));
    const queued = session.exec('echo second');
    assert.ok(await eventually(async () => (await session.listCommands()).length === 2));
    const [running, waiting] = await session.listCommands();
    assert.deepEqual([running.state, running.sessionId, running.timeoutMs], ['running', 'work', 20000]);
    assert.deepEqual([waiting.state, waiting.command, waiting.timeoutMs], ['queued', 'echo second', LIMITS.defaultCommandTimeoutMs]);
    assert.match(running.commandId, /^cmd-[0-9a-f]{16}$/);
    assert.deepEqual((await sandbox.listCommands()).map((c) => c.commandId), [running.commandId, waiting.commandId], 'the sandbox lists every session');
    const status = await sandbox.status();
    assert.deepEqual(status.commands.map((c) => [c.commandId, c.state]), [[running.commandId, 'running'], [waiting.commandId, 'queued']]);
    assert.equal(await sandbox.cancelCommand(running.commandId), true);
    const stopped = await blocker;
    assert.deepEqual([stopped.ended, stopped.exitCode, stopped.commandId], ['cancelled', 130, running.commandId]);
    const second = await queued;
    assert.deepEqual([second.stdout, second.commandId], ['second', waiting.commandId]);
    assert.deepEqual(await sandbox.listCommands(), []);
    assert.equal(await sandbox.cancelCommand(running.commandId), false, 'it is over');
  });

  test('a queued call whose caller gives up never runs: the client cancels it by its id', async () => {
    const sandbox = fresh();
    const blocker = sandbox.exec(blocking, { timeout: 20000 });
    assert.ok(await eventually(async () => (await sandbox.exists('/tmp/blocking')).exists));
    const controller = new AbortController();
    const given_up = sandbox.exec('touch /tmp/ran', { signal: controller.signal }).then(() => 'answered', (e) => e.name);
    assert.ok(await eventually(async () => (await sandbox.listCommands()).length === 2));
    controller.abort();
    assert.equal(await given_up, 'AbortError');
    assert.ok(await eventually(async () => (await sandbox.listCommands()).length === 1), 'the queued call is gone');
    await sandbox.writeFile('/tmp/go', '');
    assert.equal((await blocker).stdout, 'released');
    assert.equal((await sandbox.exists('/tmp/ran')).exists, false, 'it never ran');
  });
});

describe('parseSSEStream', () => {
  test('events split across chunks, several data lines and comments', async () => {
    const parts = [': hi\ndata: {"type":"st', 'art","timestamp":"t"}\n\ndata: {"type":"stdout",\r\ndata: "data":"x"}\n\n', 'data: {"type":"complete"}'];
    const stream = new ReadableStream({
      start(controller) {
        for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
        controller.close();
      },
    });
    const events = [];
    for await (const event of parseSSEStream(stream)) events.push(event);
    assert.deepEqual(events, [{ type: 'start', timestamp: 't' }, { type: 'stdout', data: 'x' }, { type: 'complete' }]);
  });
});

describe('sessions', () => {
  test('ids a URL would rewrite are refused by the client, and the sandbox stays', async () => {
    const sandbox = fresh();
    await sandbox.writeFile('/workspace/kept', 'kept');
    for (const id of ['..', '.', '']) {
      await assert.rejects(sandbox.deleteSession(id), ValidationError, JSON.stringify(id));
      await assert.rejects(sandbox.getSession(id), ValidationError, JSON.stringify(id));
    }
    assert.equal((await sandbox.exists('/workspace/kept')).exists, true);
  });

  test('createSession, getSession, setEnvVars and deleteSession', async () => {
    const sandbox = fresh();
    const session = await sandbox.createSession({ id: 'work', env: { A: '1' }, cwd: '/workspace/w' });
    assert.equal(session.id, 'work');
    await assert.rejects(sandbox.createSession({ id: 'work' }), SessionAlreadyExistsError);
    const again = await sandbox.getSession('work');
    assert.match((await again.exec('echo $A; pwd')).stdout, /^1\n\/.*\/w$/);
    await session.setEnvVars({ B: 'two words', A: null });
    assert.equal((await session.exec('echo "${A-unset} $B"')).stdout, 'unset two words');
    await sandbox.setEnvVars({ ON_DEFAULT: 'yes' });
    assert.equal((await sandbox.exec('echo $ON_DEFAULT')).stdout, 'yes');
    assert.equal((await session.exec('echo ${ON_DEFAULT-unset}')).stdout, 'unset');
    const info = await session.info();
    assert.equal(info.status, 'idle');
    assert.equal(info.cwd, '/workspace/w');
    assert.equal((await session.history()).total, 3);
    const listed = await sandbox.listSessions();
    assert.ok(listed.sessions.some((s) => s.id === 'work'));
    const deleted = await sandbox.deleteSession('work');
    assert.equal(deleted.sessionId, 'work');
    assert.equal(deleted.success, true);
    await assert.rejects(session.exec('true'), (e) => e instanceof SessionNotFoundError && e.status === 404 && /^req-/.test(e.requestId));
    await assert.rejects(sandbox.getSession('work'), SessionNotFoundError);
  });
});

describe('containment', () => {
  test('a daemon a command left (a double fork, setsid, no environment) ends with its session', async (t) => {
    const sandbox = fresh();
    const session = await sandbox.createSession({ id: 'daemons' });
    const left = await session.exec('(env -i setsid sleep 317 </dev/null >/dev/null 2>&1 & echo $!)');
    const pid = Number(left.stdout);
    assert.ok(pid > 1, JSON.stringify(left));
    const { containment } = await sandbox.status();
    if (!stack.containers && process.getuid() === 0) {
      assert.equal(containment, 'cgroup', 'a local jail on this host gets a cgroup of its own');
    }
    if (containment !== 'cgroup') {
      return t.skip(`containment here is ${containment}: a process that leaves its process group outlives its session`);
    }
    // Its state letter: none once it is gone, Z while it waits to be reaped.
    const state = async () => (await sandbox.exec(`cut -d' ' -f3 /proc/${pid}/stat 2>/dev/null`)).stdout;
    const gone = async () => ['', 'Z'].includes(await state());
    assert.equal(await gone(), false, 'the daemon outlives the command that started it');
    await sandbox.deleteSession('daemons');
    assert.ok(await eventually(gone, 2000), 'the daemon outlived its session');
  });
});

describe('limits', () => {
  test('a session limited in memory: its command killed at the limit says so, the session lives on', async () => {
    const sandbox = fresh();
    const limits = { memory: '48M', pids: 64, cpu: 1 };
    if (stack.containers) {
      // Docker's default on this cgroup v1 host shows the container no writable cgroup tree: refused, and said why.
      await assert.rejects(sandbox.createSession({ id: 'limited', limits }), (e) => e instanceof SandboxError && e.code === 'LIMITS_UNAVAILABLE' && e.status === 501);
      return;
    }
    const session = await sandbox.createSession({ id: 'limited', limits });
    const r = await session.exec(`python3 -c 'b = bytearray(200 << 20)'`);
    assert.deepEqual([r.exitCode, r.oomKilled], [137, true], JSON.stringify(r));
    assert.match(r.message, /memory limit of 48 MiB/);
    assert.equal((await session.exec('echo on')).stdout, 'on');
    const info = await sandbox.listSessions();
    const mine = info.sessions.find((s) => s.id === 'limited');
    assert.deepEqual(mine.limits, { memoryBytes: 48 << 20, pids: 64, cpuMillis: 1000 });
    assert.ok(mine.usage.oomKills >= 1 && mine.usage.memoryBytes < 48 << 20, JSON.stringify(mine.usage));
    const { agent } = await sandbox.status();
    const used = agent.sessionUsage.find((s) => s.sessionId === 'limited');
    assert.ok(used && used.usage.cpuMs >= 0 && used.usage.oomKills >= 1, JSON.stringify(agent.sessionUsage));
    await assert.rejects(sandbox.createSession({ limits: { memory: 'lots' } }), (e) => e instanceof ValidationError && /limits\.memory/.test(e.message));
  });
});

describe('files', () => {
  test('write, read, mkdir, rename, move, exists, list and delete', async () => {
    const sandbox = fresh();
    const written = await sandbox.writeFile('/workspace/d/a.txt', 'hello');
    assert.equal(written.path, '/workspace/d/a.txt');
    const read = await sandbox.readFile('/workspace/d/a.txt');
    assert.deepEqual([read.content, read.encoding, read.isBinary, read.size], ['hello', 'utf-8', false, 5]);
    await sandbox.writeFile('/workspace/d/bin', new Uint8Array([0, 255, 1]));
    assert.equal((await sandbox.readFile('/workspace/d/bin', { encoding: 'base64' })).content, 'AP8B');
    const made = await sandbox.mkdir('/workspace/x/y', { recursive: true });
    assert.equal(made.recursive, true);
    const renamed = await sandbox.renameFile('/workspace/d/a.txt', '/workspace/d/b.txt');
    assert.equal(renamed.newPath, '/workspace/d/b.txt');
    await sandbox.moveFile('/workspace/d/b.txt', '/workspace/x/y');
    assert.equal((await sandbox.exists('/workspace/x/y/b.txt')).exists, true);
    const listed = await sandbox.listFiles('/workspace', { recursive: true });
    assert.deepEqual(listed.files.map((f) => f.relativePath).sort(), ['d', 'd/bin', 'x', 'x/y', 'x/y/b.txt']);
    await sandbox.deleteFile('/workspace/x/y/b.txt');
    await assert.rejects(sandbox.readFile('/workspace/x/y/b.txt'), (e) => e instanceof FileNotFoundError && e.code === 'FILE_NOT_FOUND');
  });
});

describe('terminals', () => {
  test('listTerminals shows each with its viewers; killTerminal ends one, its viewer gets exit', async () => {
    const sandbox = fresh();
    assert.deepEqual(await sandbox.listTerminals(), []);
    const ws = await openWebSocket(stack.base, `/v1/sandboxes/${sandbox.id}/pty?cols=90&rows=20`, { authorization: `Bearer ${token}` });
    const { ptyId } = await ws.text();
    const [listed] = await sandbox.listTerminals();
    assert.deepEqual([listed.id, listed.cols, listed.rows, listed.attached], [ptyId, 90, 20, 1]);
    const killed = await sandbox.killTerminal(ptyId);
    assert.deepEqual([killed.success, killed.ptyId], [true, ptyId]);
    assert.equal((await ws.text()).type, 'exit');
    assert.deepEqual(await sandbox.listTerminals(), []);
    await assert.rejects(sandbox.killTerminal(ptyId), (e) => e instanceof SandboxError && e.code === 'PTY_NOT_FOUND' && e.status === 404);
    ws.close();
  });

  test("terminal(request) refuses another site's page before anything is sent; allowedOrigins lets one in", async () => {
    let sent = 0;
    const binding = { fetch: async () => { sent += 1; return new Response('{"code":"PTY_NOT_FOUND","message":"x"}', { status: 404 }); } };
    const sandbox = getSandbox(binding, 'box');
    const page = (origin, host = 'app.example:8788') => new Request(`http://${host}/terminal`, { headers: { upgrade: 'websocket', origin } });
    for (const origin of ['https://evil.example', 'null', 'http://app.example:8788.evil.example', 'http://app.example']) {
      await assert.rejects(sandbox.terminal(page(origin)), (e) => e instanceof SandboxError && e.code === 'CROSS_SITE_REFUSED' && e.status === 403, origin);
    }
    assert.equal(sent, 0, 'a refused page reached the sandbox');
    // The caller's own page, and an allowed one, go on (here to a binding that answers 404).
    await assert.rejects(sandbox.terminal(page('http://app.example:8788')), { code: 'PTY_NOT_FOUND' });
    await assert.rejects(sandbox.terminal(page('https://console.example'), { allowedOrigins: ['https://console.example'] }), { code: 'PTY_NOT_FOUND' });
    assert.equal(sent, 2);
  });
});

describe('backups', () => {
  /// Every entry below the workspace with its kind, mode, size, mtime, link target, and a hash of each file.
  const DESCRIBE = "cd /workspace && find . -mindepth 1 -printf '%p %y %m %s %T@ %l\\n' | sort && find . -type f -exec sha256sum {} + | sort -k2";

  test('a backup brings back every file, link, mode and mtime, and a corrupt store is refused', async () => {
    const sandbox = fresh();
    const made = await sandbox.exec(
      "mkdir -p /workspace/src/empty '/workspace/ünï cödé' && cd /workspace && printf 'a\\0b\\377' > src/bin && : > zero " +
      '&& ln -s ../elsewhere src/link && echo mine > secret && chmod 700 secret && head -c 6000000 /dev/urandom > big ' +
      '&& touch -d @1000000000 src/bin');
    assert.equal(made.exitCode, 0, made.stderr);
    const before = (await sandbox.exec(DESCRIBE)).stdout;
    const backup = await sandbox.createBackup({ name: 'first', ttl: 3600 });
    assert.match(backup.id, /^bk-[0-9a-f]{32}$/);
    assert.equal(backup.name, 'first');
    assert.equal(backup.dir, '/workspace');
    assert.equal(backup.files, 4);
    assert.ok(backup.sizeBytes >= 6_000_000, JSON.stringify(backup));
    const expires = Date.parse(backup.expiresAt) - Date.parse(backup.createdAt);
    assert.ok(Math.abs(expires - 3_600_000) < 1000, JSON.stringify(backup));
    assert.deepEqual((await sandbox.listBackups()).map((b) => b.id), [backup.id]);

    await sandbox.exec('rm -rf /workspace/src /workspace/big && echo changed > /workspace/notes.txt');
    const restored = await sandbox.restoreBackup(backup);
    assert.deepEqual([restored.id, restored.dir, restored.files], [backup.id, '/workspace', 4]);
    assert.equal((await sandbox.exec(DESCRIBE)).stdout, before);

    // A second backup after one change; both listed, newest first; a deleted one is gone for good.
    await sandbox.writeFile('/workspace/src/bin', 'changed');
    const second = await sandbox.createBackup();
    assert.deepEqual((await sandbox.listBackups()).map((b) => b.id), [second.id, backup.id]);
    assert.deepEqual(await sandbox.deleteBackup(backup.id), { success: true, id: backup.id });
    const gone = await sandbox.restoreBackup(backup.id).catch((e) => e);
    assert.ok(gone instanceof SandboxError && gone.code === 'BACKUP_NOT_FOUND' && gone.status === 404, String(gone));
    await sandbox.restoreBackup(second.id);
    assert.equal((await sandbox.readFile('/workspace/src/bin')).content, 'changed');
  });

  test('a fork starts as its origin, then the two go their own ways', async () => {
    const origin = fresh();
    await origin.exec("mkdir -p /workspace/d && printf 'a\\0b' > /workspace/d/bin && echo origin > /workspace/shared.txt");
    const forkId = `${origin.id}-fork`;
    const forked = await origin.fork(forkId);
    assert.equal(forked.id, forkId);
    assert.equal((await forked.readFile('/workspace/shared.txt')).content, 'origin\n');
    assert.equal((await forked.exec('od -c /workspace/d/bin | head -1')).stdout, '0000000   a  \\0   b');
    // Each changes; neither sees the other's change.
    await forked.writeFile('/workspace/shared.txt', 'fork');
    await origin.writeFile('/workspace/only-origin.txt', 'o');
    assert.equal((await origin.readFile('/workspace/shared.txt')).content, 'origin\n');
    assert.equal((await forked.exists('/workspace/only-origin.txt')).exists, false);
    // The fork's own backups hold its files, not the origin's.
    const own = await forked.createBackup();
    await forked.writeFile('/workspace/shared.txt', 'changed');
    await forked.restoreBackup(own);
    assert.equal((await forked.readFile('/workspace/shared.txt')).content, 'fork');
    // A fork onto a sandbox in use, onto itself, or with a bad id is refused; from a backup, it starts as that.
    const taken = await origin.fork(forkId).catch((e) => e);
    assert.equal(taken.code, 'SANDBOX_ALREADY_EXISTS', String(taken));
    assert.equal(taken.status, 409);
    for (const id of [origin.id, 'Not_A_Valid_Id', '']) {
      const e = await origin.fork(id).catch((e) => e);
      assert.equal(e.code, 'VALIDATION_FAILED', `${id}: ${e}`);
    }
    const backup = await origin.createBackup();
    await origin.writeFile('/workspace/shared.txt', 'after the backup');
    const fromBackup = await origin.fork(`${origin.id}-b`, { backup });
    assert.equal((await fromBackup.readFile('/workspace/shared.txt')).content, 'origin\n');
  });

  test('a file written without a pause does not stop a backup: it is kept as it was at one moment', async () => {
    const sandbox = fresh();
    await sandbox.exec('head -c 3000000 /dev/urandom > /workspace/data.bin && echo start > /workspace/busy.log');
    const before = (await sandbox.exec('sha256sum /workspace/data.bin')).stdout;
    // Rewritten in place (never empty) thousands of times a second: between a save's reading and its sending, it
    // changes.
    const writer = await sandbox.startProcess(`bash -c 'i=0; while :; do i=$((i+1)); exec 3<>/workspace/busy.log; printf "line %08d\\n" $i >&3; done'`);
    let backup;
    try {
      backup = await sandbox.createBackup();
    } finally {
      await writer.kill('SIGKILL');
    }
    await sandbox.exec('rm -f /workspace/data.bin /workspace/busy.log');
    await sandbox.restoreBackup(backup);
    assert.equal((await sandbox.exec('sha256sum /workspace/data.bin')).stdout, before);
    assert.match((await sandbox.readFile('/workspace/busy.log')).content, /^(start|line \d{8})\n$/);
  });

  test('blobs no kept backup, save or fork names are deleted from the store; the others stay and restore', async () => {
    /// The sandbox's blobs in the bucket (a test hook of the Worker).
    const blobs = async (sandbox) => {
      const r = await fetch(`${stack.base}/v1/_test/bucket/keys?prefix=blobs/${sandbox.id}/`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200);
      return (await r.json()).keys.length;
    };
    // Each file 5 MB of random bytes: two blobs (4 MiB and the rest).
    const write = (sandbox, ...names) => sandbox.exec(names.map((f) => `head -c 5000000 /dev/urandom > /workspace/${f}`).join(' && '));
    const sandbox = fresh();
    await write(sandbox, 'a', 'b');
    const first = await sandbox.createBackup();
    assert.equal(await blobs(sandbox), 4);
    await sandbox.exec('rm /workspace/b');
    await write(sandbox, 'c');
    const second = await sandbox.createBackup();
    assert.equal(await blobs(sandbox), 6);
    // Only the first named b: deleting it deletes b's blobs; the second still restores whole.
    await sandbox.deleteBackup(first.id);
    assert.equal(await blobs(sandbox), 4);
    const sums = (await sandbox.exec('cd /workspace && sha256sum a c')).stdout;
    await sandbox.exec('rm -f /workspace/*');
    await sandbox.restoreBackup(second);
    assert.equal((await sandbox.exec('cd /workspace && sha256sum a c')).stdout, sums);

    // A fork names these blobs until it has saved its own: deleting the backup keeps them.
    const fork = await sandbox.fork(`${sandbox.id}-f`);
    await sandbox.deleteBackup(second.id);
    assert.equal(await blobs(sandbox), 4);
    // The origin moves on (a new file, saved by a second fork); a, c stay for the first fork.
    await sandbox.exec('rm /workspace/a /workspace/c');
    await write(sandbox, 'd');
    await sandbox.fork(`${sandbox.id}-g`);
    assert.equal(await blobs(sandbox), 6);
    assert.equal((await fork.exec('cd /workspace && sha256sum a c')).stdout, sums);
    // Once the fork has saved its own workspace (here: before a fork of its own), a and c go at the origin's next
    // collection; d stays (its save and its second fork name it).
    await fork.fork(`${sandbox.id}-h`);
    const third = await sandbox.createBackup();
    await sandbox.deleteBackup(third.id);
    assert.equal(await blobs(sandbox), 2);
    assert.equal((await fork.exec('cd /workspace && sha256sum a c')).stdout, sums);
    assert.equal((await getSandbox({ url: stack.base, token }, `${sandbox.id}-h`).exec('cd /workspace && sha256sum a c')).stdout, sums);
  });

  test('a corrupt or truncated blob in the store fails the restore with BACKUP_INVALID and changes nothing', async () => {
    const hook = (path, init) => fetch(`${stack.base}/v1/_test/bucket/${path}`, {
      ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    });
    const sandbox = fresh();
    await sandbox.writeFile('/workspace/note.txt', 'small\n');
    const backup = await sandbox.createBackup();
    // One file: one blob (its pack), of its six bytes.
    const keys = (await (await hook(`keys?prefix=blobs/${sandbox.id}/`)).json()).keys;
    assert.equal(keys.length, 1, JSON.stringify(keys));
    await sandbox.writeFile('/workspace/note.txt', 'changed');
    await sandbox.writeFile('/workspace/added.txt', 'added');
    const before = (await sandbox.exec('ls -l --time-style=+%s /workspace; cat /workspace/note.txt')).stdout;
    // The same size with other bytes, then cut short: each refused, and the workspace as it was.
    for (const body of ['SMALL\n', 'sma']) {
      assert.equal((await hook(`object?key=${encodeURIComponent(keys[0])}`, { method: 'PUT', body })).status, 200);
      const e = await sandbox.restoreBackup(backup).catch((e) => e);
      assert.equal(e.code, 'BACKUP_INVALID', `${body}: ${e}`);
      assert.equal(e.status, 422);
      assert.equal((await sandbox.exec('ls -l --time-style=+%s /workspace; cat /workspace/note.txt')).stdout, before);
    }
  });

  test('backups are reachable only through their own sandbox, and bad options are refused', async () => {
    const owner = fresh();
    await owner.writeFile('/workspace/mine.txt', 'mine');
    const backup = await owner.createBackup();
    const other = fresh();
    const foreign = await other.restoreBackup(backup.id).catch((e) => e);
    assert.equal(foreign.code, 'BACKUP_NOT_FOUND', String(foreign));
    assert.deepEqual(await other.listBackups(), []);
    for (const [options, code] of [
      [{ ttl: 0 }, 'VALIDATION_FAILED'],
      [{ ttl: 31 * 24 * 3600 }, 'VALIDATION_FAILED'],
      [{ name: 'x'.repeat(300) }, 'VALIDATION_FAILED'],
      [{ dir: '/workspace/no/such/dir' }, 'FILE_NOT_FOUND'],
    ]) {
      const e = await owner.createBackup(options).catch((e) => e);
      assert.equal(e.code, code, `${JSON.stringify(options)}: ${e}`);
    }
    for (const id of ['nope', `bk-${'0'.repeat(32)}`]) {
      const e = await owner.deleteBackup(id).catch((e) => e);
      assert.equal(e.code, 'BACKUP_NOT_FOUND', `${id}: ${e}`);
    }
    assert.ok((await owner.deleteBackup('../../manifests').catch((e) => e)) instanceof ValidationError);
  });
});

describe('errors and the sandbox itself', () => {
  test('errors are typed and carry code, status and message', async () => {
    const sandbox = fresh();
    const e = await sandbox.exec('true', { cwd: 'x\0y' }).catch((e) => e);
    assert.ok(e instanceof ValidationError && e instanceof SandboxError, String(e));
    assert.equal(e.code, 'VALIDATION_FAILED');
    assert.equal(e.status, 400);
    assert.ok(e.message.length > 0);
    await assert.rejects(getSandbox({ url: stack.base, token }, 'Bad_Id').exec('true'), { code: 'VALIDATION_FAILED', status: 400 });
    await assert.rejects(getSandbox({ url: stack.base }, 'box').exec('true'), (e) => e instanceof UnauthorizedError && e.status === 401);
    await assert.rejects(getSandbox({ url: 'http://127.0.0.1:1' }, 'box').exec('true'), { code: 'NETWORK_ERROR', status: 0 });
    assert.throws(() => getSandbox({}, 'box'), TypeError);
    // A route the Worker does not serve is named as the caller wrote it (the agent named its own: no route /v1/run).
    const unknown = await fetch(`${stack.base}/v1/sandboxes/box/run`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).message, 'no route /v1/sandboxes/box/run');
    // openTerminal needs the Workers runtime: here (Node) it says so and sends nothing, not a bare network error.
    await assert.rejects(getSandbox({ url: stack.base, token }, 'box').openTerminal(), (e) => e.code === 'UNSUPPORTED_RUNTIME' && /Workers runtime/.test(e.message));
    // The SDK's options are taken or refused, never ignored: keepAlive only as false, sleepAfter through its setter.
    assert.equal(getSandbox({ url: stack.base, token }, 'box', { keepAlive: false }).id, 'box');
    assert.throws(() => getSandbox({ url: stack.base, token }, 'box', { keepAlive: true }), (e) => e instanceof ValidationError && /setKeepAlive\(true\)/.test(e.message));
    assert.throws(() => getSandbox({ url: stack.base, token }, 'box', { sleepAfter: '30m' }), (e) => e instanceof ValidationError && /setSleepAfter\(duration\)/.test(e.message));
    assert.throws(() => getSandbox({ url: stack.base, token }, 'box', { tokn: 'x' }), /unknown option "tokn"/);
    // An id a URL would rewrite is the client's to refuse (it was sent as another route: 405 on /v1/sandboxes/exec).
    for (const id of ['', '.', '..']) {
      assert.throws(() => getSandbox({ url: stack.base, token }, id), (e) => e instanceof ValidationError && e.code === 'VALIDATION_FAILED', JSON.stringify(id));
    }
  });

  test('a JSON body over the limit is a BODY_TOO_LARGE naming the limit and the way round it; bytes of any size go raw', async () => {
    const sandbox = fresh();
    await sandbox.writeFile('kept.bin', 'the old content');
    // Over plain HTTP, as curl sends it: the answer is JSON (it was a bare 503 "worker restarted").
    const raw = await fetch(`${stack.base}/v1/sandboxes/${sandbox.id}/files/write`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ path: 'kept.bin', content: 'x'.repeat(40_000_000) }),
    });
    assert.equal(raw.status, 413);
    const refused = await raw.json();
    assert.equal(refused.code, 'BODY_TOO_LARGE');
    assert.match(refused.message, /38\.1 MiB.*at most 32 MiB \(33554432 bytes\) of JSON.*as a stream/);
    assert.equal(LIMITS.maxBodyBytes, 33554432);
    assert.equal((await sandbox.readFile('kept.bin')).content, 'the old content');
    // Bytes travel raw (not as base64 inside JSON): 40 MB is over no limit.
    const written = await sandbox.writeFile('kept.bin', new Uint8Array(40_000_000).fill(7));
    assert.equal(written.size, 40_000_000);
    assert.equal((await sandbox.exec('stat -c %s kept.bin')).stdout, '40000000');
  });

  test('status and destroy', async () => {
    const sandbox = fresh();
    await sandbox.writeFile('/workspace/f', 'x');
    const status = await sandbox.status();
    assert.deepEqual([status.mode, status.running], [stack.containers ? 'container' : 'local', true]);
    assert.equal((await sandbox.destroy()).success, true);
    assert.equal((await sandbox.exists('/workspace/f')).exists, false);
  });

  test('the status sums up what the agent has done', async () => {
    const sandbox = fresh();
    await sandbox.exec('echo hi');
    assert.equal((await sandbox.exec('sleep 5', { timeout: 100 })).ended, 'timedOut');
    const { agent } = await sandbox.status();
    assert.ok(agent, 'a running agent is summed up');
    assert.ok(agent.commands.exited >= 1 && agent.commands.timedOut >= 1, JSON.stringify(agent));
    assert.ok(agent.sessions >= 1 && agent.requests >= 2 && agent.stdoutBytes >= 3 && agent.uptimeMs > 0, JSON.stringify(agent));
    if (stack.containers) {
      // Its own container: these are this sandbox's alone.
      assert.equal(agent.sessions, 1);
      assert.equal(agent.commands.timedOut, 1);
      assert.equal(typeof agent.processes, 'number');
      await sandbox.destroy();
      const after = await sandbox.status();
      assert.equal(after.running, false);
      assert.equal(after.agent, undefined, 'a status starts no container to sum it up');
    }
  });

  test('an unreachable agent is a ContainerUnavailableError with retryAfter', async (t) => {
    if (stack.containers) return t.skip('the host agent is not there to stop (tests/containers: an agent that cannot start)');
    const sandbox = fresh();
    await stack.agent.stop();
    try {
      const e = await sandbox.exec('true').catch((e) => e);
      assert.ok(e instanceof ContainerUnavailableError, String(e));
      assert.equal(e.status, 503);
      assert.ok(e.retryAfter > 0);
    } finally {
      await stack.restartAgent();
    }
  });
});
