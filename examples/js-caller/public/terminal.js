// The terminal page: xterm.js on a WebSocket to this Worker's `GET /terminal`, which hands it to a terminal in the
// sandbox. Binary messages are the terminal's bytes both ways; text messages are JSON controls (`resize` out,
// `ready` and `exit` in). The terminal's id is kept in localStorage, so a reload, or coming back later, reattaches
// to the same shell: the sandbox replays its recent output first, then the page goes live.
import { Terminal } from '/vendor/xterm.mjs';
import { FitAddon } from '/vendor/addon-fit.mjs';

const STORED = 'sandbox-rs:terminal:my-sandbox';
const term = new Terminal({ cursorBlink: true, scrollback: 10000, fontFamily: 'monospace', fontSize: 14 });
const fit = new FitAddon();
term.loadAddon(fit);
term.open(document.getElementById('screen'));
fit.fit();

const encoder = new TextEncoder();
const state = document.getElementById('state');
const ptyLabel = document.getElementById('pty');
let socket;
let ended = false;

/// What the page shows and what a test reads: `state` is connecting, attached, exited or closed.
function show(text, ptyId) {
  state.textContent = text;
  if (ptyId !== undefined) ptyLabel.textContent = ptyId ? `terminal ${ptyId}` : '';
  document.body.dataset.state = text.split(' ')[0];
}

function connect({ retryFresh = true } = {}) {
  const ptyId = localStorage.getItem(STORED);
  const query = new URLSearchParams({ cols: term.cols, rows: term.rows });
  if (ptyId) query.set('ptyId', ptyId);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/terminal?${query}`);
  ws.binaryType = 'arraybuffer';
  socket = ws;
  let ready = false;
  ended = false;
  show('connecting…');

  ws.addEventListener('message', (event) => {
    if (typeof event.data !== 'string') {
      term.write(new Uint8Array(event.data));
      return;
    }
    const control = JSON.parse(event.data);
    if (control.type === 'ready') {
      ready = true;
      localStorage.setItem(STORED, control.ptyId);
      show('attached', control.ptyId);
      // The replayed screen was drawn at the size it had; the shell now learns this window's size.
      sendResize();
      term.focus();
    } else if (control.type === 'exit') {
      ended = true;
      localStorage.removeItem(STORED);
      term.write(`\r\n\x1b[2m[the shell exited with code ${control.code}; press any key for a new terminal]\x1b[0m\r\n`);
      show(`exited ${control.code}`, '');
    }
  });
  ws.addEventListener('close', () => {
    if (ws !== socket) return; // one the page has left for another
    if (!ready && ptyId && retryFresh) {
      // The stored terminal is gone (it ended, or was ended while nobody watched): start a new one.
      localStorage.removeItem(STORED);
      connect({ retryFresh: false });
      return;
    }
    if (!ended) show('closed (press any key to reconnect)');
  });
}

function sendResize() {
  if (socket?.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
  }
}

function send(data) {
  if (socket?.readyState === WebSocket.OPEN && !ended) {
    socket.send(data);
  } else if (socket?.readyState !== WebSocket.CONNECTING) {
    term.reset();
    connect();
  }
}

term.onData((data) => send(encoder.encode(data)));
// Bytes xterm.js reports as binary (some mouse reports) are one byte per character.
term.onBinary((data) => send(Uint8Array.from(data, (c) => c.charCodeAt(0))));
term.onResize(sendResize);
new ResizeObserver(() => fit.fit()).observe(document.getElementById('screen'));

// Another terminal: the one left behind ends by itself once nobody has watched it for a while (the sandbox's
// terminal idle time).
document.getElementById('new').addEventListener('click', () => {
  localStorage.removeItem(STORED);
  const old = socket;
  term.reset();
  connect();
  old?.close();
});

// For tests and the curious: the terminal object (its buffer holds what the screen shows).
window.sandboxTerminal = term;
connect();
