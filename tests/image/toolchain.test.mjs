// What users run first works in the image as it does under `npm run dev` (whose jails see the host's /usr): Node
// with npm installing a package, a C and a C++ compiler, Python with pip installing into a venv. Offline: the
// packages are local folders (tests talk to nothing beyond loopback).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { needsImage, run, start } from './agent.mjs';

/// Runs `command` and asserts it succeeded, with its output in the message when it did not.
async function ok(base, command) {
  const r = await run(base, command, undefined, 120_000);
  assert.equal(r.exitCode, 0, `${command}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('node and npm install a package; the app requires it', needsImage, async () => {
  const { base } = await start('node');
  assert.match(await ok(base, 'node --version'), /^v\d+\./);
  // (The session's shell keeps its directory: each step works in a subshell.)
  await ok(base, `mkdir -p lib app && (cd lib && echo 'module.exports = () => "from lib";' > index.js \
    && echo '{"name":"lib","version":"1.0.0","main":"index.js"}' > package.json)`);
  await ok(base, `(cd app && echo '{"name":"app","version":"1.0.0","dependencies":{"lib":"file:../lib"}}' > package.json \
    && npm install --offline --no-audit --no-fund)`);
  assert.equal(await ok(base, `(cd app && node -e 'console.log(require("lib")())')`), 'from lib');
});

test('C and C++ programs compile and run (what native modules need)', needsImage, async () => {
  const { base } = await start('cc');
  await ok(base, `printf '#include <stdio.h>\\nint main(void){puts("c ok");return 0;}\\n' > hello.c && cc -O2 -o hello hello.c`);
  assert.equal(await ok(base, './hello'), 'c ok');
  await ok(base, `printf '#include <iostream>\\nint main(){std::cout<<"c++ ok"<<std::endl;}\\n' > hello.cc && c++ -o hellocc hello.cc`);
  assert.equal(await ok(base, './hellocc'), 'c++ ok');
  assert.match(await ok(base, 'make --version | head -1'), /GNU Make/);
  assert.match(await ok(base, 'python3 -c "import sysconfig; print(sysconfig.get_paths()[\'include\'])" | xargs -I{} test -e {}/Python.h && echo headers'), /headers/);
});

test('python3 makes a venv whose pip installs a package', needsImage, async () => {
  const { base } = await start('python');
  await ok(base, 'python3 -m venv /tmp/venv');
  await ok(base, `mkdir -p pkg/greet && echo 'def hello(): return "from pip"' > pkg/greet/__init__.py \
    && printf 'from setuptools import setup\\nsetup(name="greet", version="1.0", packages=["greet"])\\n' > pkg/setup.py`);
  await ok(base, '/tmp/venv/bin/pip install --no-index --no-build-isolation --quiet ./pkg');
  assert.equal(await ok(base, `/tmp/venv/bin/python -c 'import greet; print(greet.hello())'`), 'from pip');
  assert.match(await ok(base, 'pip3 --version'), /^pip /);
});
