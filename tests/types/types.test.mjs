// The JavaScript client's published types, checked the way a caller's TypeScript uses them: `api.ts` must compile
// against the built `.d.ts` (calls from the SDK's docs accepted and typed, wrong ones refused).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

test('the client types accept the SDK calls and refuse wrong ones', () => {
  const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tests/types/tsconfig.json')], { encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});

test("the client's error codes are exactly the protocol's, plus its own", async () => {
  const { readFileSync } = await import('node:fs');
  const rust = readFileSync(join(root, 'protocol/src/error.rs'), 'utf8');
  const wire = new Set([...rust.matchAll(/=> "([A-Z_]+)",/g)].map((m) => m[1]).filter((c) => c !== 'UNKNOWN'));
  const ts = readFileSync(join(root, 'clients/js/src/errors.ts'), 'utf8');
  const union = ts.slice(ts.indexOf('export type ErrorCode'), ts.indexOf(';', ts.indexOf('export type ErrorCode')));
  const client = new Set([...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]));
  const own = new Set(['NETWORK_ERROR', 'INVALID_RESPONSE', 'STREAM_INTERRUPTED']);
  assert.ok(wire.size >= 20, `read ${wire.size} codes from error.rs`);
  for (const code of wire) assert.ok(client.has(code), `${code} is missing from the client's ErrorCode`);
  for (const code of client) assert.ok(wire.has(code) || own.has(code), `${code} is not a code the server sends`);
});
