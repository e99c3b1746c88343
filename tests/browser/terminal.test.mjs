// The terminal page in a real browser: Chromium (driven by playwright-core) opens `examples/js-caller`'s
// terminal.html on the local stack, types into xterm.js and reads what the screen shows. `scripts/test-browser.sh`
// finds or installs Chromium and passes its path in SANDBOX_CHROMIUM.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startStack } from '../e2e/stack.mjs';

const executablePath = process.env.SANDBOX_CHROMIUM;

describe('the terminal page in Chromium', { skip: !executablePath && 'SANDBOX_CHROMIUM is not set (run scripts/test-browser.sh)' }, () => {
  let stack;
  let browser;
  let page;
  let base;

  before(async () => {
    stack = await startStack();
    base = await stack.startCaller('js-caller');
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 800, height: 480 } });
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /// The rows the screen shows now, as text (the DOM renderer draws each row as an element).
  const screen = async () => (await page.locator('.xterm-rows > div').allInnerTexts()).map((row) => row.replace(/\u00a0/g, ' ').trimEnd());
  /// Waits until some row of the screen passes `check`; fails with the screen.
  async function until(check, what) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const rows = await screen();
      if (rows.some(check)) return rows;
      if (Date.now() > deadline) assert.fail(`the screen never showed ${what}:\n${rows.join('\n')}`);
      await new Promise((ok) => setTimeout(ok, 50));
    }
  }
  async function type(line) {
    await page.keyboard.type(line);
    await page.keyboard.press('Enter');
  }
  const attached = () => page.waitForSelector('body[data-state="attached"]', { timeout: 30_000 });
  const size = () => page.evaluate(() => ({ cols: window.sandboxTerminal.cols, rows: window.sandboxTerminal.rows }));

  test('types a command and sees its output', async () => {
    await page.goto(`${base}/terminal.html`);
    await attached();
    await type('echo hello');
    await until((row) => row === 'hello', 'hello');
  });

  test('runs vim, edits a file and quits back to the shell', async () => {
    await type('vim -u NONE /tmp/from-the-browser.txt');
    await until((row) => row.includes('"/tmp/from-the-browser.txt"'), "vim's file line");
    const rows = await screen();
    assert.ok(rows.filter((row) => row === '~').length > 3, `vim's empty lines:\n${rows.join('\n')}`);
    await page.keyboard.type('iwritten in vim');
    await page.keyboard.press('Escape');
    await type(':wq');
    // Type on only once the shell's prompt is back: keys sent while vim is still exiting are vim's to read (it
    // took the `c` of `cat` once).
    await until((row) => /^\S+@\S+:\S+[#$]$/.test(row), 'the prompt after vim');
    await type('cat /tmp/from-the-browser.txt');
    await until((row) => row === 'written in vim', 'the file vim wrote');
  });

  test('resizing the window resizes the terminal', async () => {
    const before = await size();
    await page.setViewportSize({ width: 1200, height: 720 });
    await page.waitForFunction((cols) => window.sandboxTerminal.cols > cols, before.cols);
    const after = await size();
    assert.ok(after.rows > before.rows, `${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    await type('stty size');
    await until((row) => row === `${after.rows} ${after.cols}`, `stty size ${after.rows} ${after.cols}`);
  });

  test('a reload reattaches to the same shell and shows its earlier output', async () => {
    const ptyId = await page.locator('#pty').innerText();
    await type('export LEFT_BEFORE_RELOAD=still-here');
    await page.reload();
    await attached();
    assert.equal(await page.locator('#pty').innerText(), ptyId, 'the same terminal');
    await until((row) => row === 'hello', 'the output from before the reload');
    await until((row) => row === 'written in vim', 'the output from before the reload');
    await type('echo "$LEFT_BEFORE_RELOAD"');
    await until((row) => row === 'still-here', 'the same shell, live');
  });
});
