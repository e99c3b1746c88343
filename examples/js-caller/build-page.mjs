// Copies xterm.js and its fit add-on from npm (node_modules) next to the terminal page, into public/vendor/, which
// wrangler serves as static assets. Runs as this Worker's build step, before `wrangler dev` and `wrangler deploy`.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const vendor = join(here, 'public', 'vendor');
mkdirSync(vendor, { recursive: true });
const files = {
  'xterm.mjs': '@xterm/xterm/lib/xterm.mjs',
  'xterm.css': '@xterm/xterm/css/xterm.css',
  'addon-fit.mjs': '@xterm/addon-fit/lib/addon-fit.mjs',
};
for (const [name, module] of Object.entries(files)) {
  copyFileSync(require.resolve(module), join(vendor, name));
}
