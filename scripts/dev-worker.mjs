// The sandbox Worker for `npm run dev` (scripts/dev.sh), through wrangler's own API rather than `wrangler dev`: the
// command line always opens an inspector on 127.0.0.1, whose protocol evaluates JavaScript in the Worker, reads
// its variables (the agent's token among them) and so drives every sandbox; here none opens unless asked for.
//
//   node scripts/dev-worker.mjs --port P --persist-to DIR [--var NAME:VALUE]... [--inspector-port N]
//                               [--config FILE] [--log-level LEVEL] [--containers]
//
// With --containers, each sandbox's object starts a real container of container/Dockerfile (wrangler builds the
// image with the docker of WRANGLER_DOCKER_BIN, else `docker`), as `npm run dev -- --containers` runs it.
//
// The end-to-end tests start the sandbox Worker through here too, so they run it as `npm run dev` does. An open
// inspector also costs: wrangler relays every DevTools event of the Worker to its own process as an HTTP request
// of its own and keeps it while no DevTools is attached, and workerd reports each 4 KiB of a subrequest's answer as
// one (a 64 MiB save through the object made 16,000 such requests and a gigabyte of memory in wrangler's proxy).
//
// Stops (and disposes of the Worker) on SIGINT or SIGTERM.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { unstable_startWorker } from 'wrangler';

/// The dev registry a plain `wrangler dev` uses, so that a caller Worker of the user's finds this one (wrangler's
/// API uses none unless given one): WRANGLER_REGISTRY_PATH, else `registry` in wrangler's global config folder
/// (`~/.wrangler` where it exists, else `$XDG_CONFIG_HOME/.wrangler` or `~/.config/.wrangler`), as its CLI decides.
function devRegistry() {
  if (process.env.WRANGLER_REGISTRY_PATH) return process.env.WRANGLER_REGISTRY_PATH;
  const legacy = join(homedir(), '.wrangler');
  const config = existsSync(legacy) ? legacy : join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), '.wrangler');
  return join(config, 'registry');
}

const args = process.argv.slice(2);
const options = { vars: {}, containers: false };
for (let i = 0; i < args.length; i += 2) {
  if (args[i] === '--containers') {
    options.containers = true;
    i -= 1;
    continue;
  }
  const [flag, value] = [args[i], args[i + 1]];
  if (value === undefined) usage(`${flag} needs a value`);
  if (flag === '--port') options.port = Number(value);
  else if (flag === '--persist-to') options.persist = value;
  else if (flag === '--inspector-port') options.inspectorPort = Number(value);
  else if (flag === '--config') options.config = value;
  else if (flag === '--log-level') options.logLevel = value;
  else if (flag === '--var') {
    const at = value.indexOf(':');
    if (at <= 0) usage(`--var ${value}: NAME:VALUE`);
    options.vars[value.slice(0, at)] = value.slice(at + 1);
  } else usage(`unknown ${flag}`);
}
if (!Number.isInteger(options.port) || !options.persist) usage('--port and --persist-to are required');

function usage(problem) {
  console.error(`dev-worker: ${problem}\nusage: node scripts/dev-worker.mjs --port P --persist-to DIR [--var NAME:VALUE]... [--inspector-port N] [--config FILE] [--log-level LEVEL] [--containers]`);
  process.exit(2);
}

const worker = await unstable_startWorker({
  config: options.config ?? 'wrangler.toml',
  // The agent's token as a secret: wrangler prints every other variable's value in its table of bindings.
  bindings: Object.fromEntries(Object.entries(options.vars).map(([name, value]) => [name, { type: name.endsWith('_TOKEN') ? 'secret_text' : 'plain_text', value }])),
  dev: {
    server: { hostname: '127.0.0.1', port: options.port },
    inspector: options.inspectorPort ? { hostname: '127.0.0.1', port: options.inspectorPort } : false,
    persist: options.persist,
    registry: devRegistry(),
    enableContainers: options.containers,
    ...(options.containers
      ? { containerBuildId: randomBytes(4).toString('hex'), dockerPath: process.env.WRANGLER_DOCKER_BIN || 'docker' }
      : {}),
    watch: false,
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
  },
});
await worker.ready;
console.log(`dev-worker: the sandbox Worker is ready on ${await worker.url}${options.inspectorPort ? ` (inspector on 127.0.0.1:${options.inspectorPort})` : ' (no inspector)'}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await worker.dispose().catch(() => {});
    process.exit(0);
  });
}
