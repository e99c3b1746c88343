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

