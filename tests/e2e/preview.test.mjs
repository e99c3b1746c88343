// Preview URLs through the whole path: a port of the sandbox exposed by the JavaScript client, served by the Worker
// at `{port}-{id}-{token}.localhost:<dev port>` to a browser-like request (its Host header), unbuffered (server-sent
// events arrive one by one); a wrong token, or a port not exposed, gets a 404 that tells nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';

import { getSandbox } from 'sandbox-rs';
import { freePort, startStack } from './stack.mjs';

const token = 'preview-token-321';
let stack;
let n = 0;

before(async () => {
  stack = await startStack({ token });
});
after(async () => {
  await stack?.stop();
});

function fresh() {
  return getSandbox({ url: stack.base, token }, `prev-${process.pid}-${++n}`);
}

/// A request to the Worker as a browser sends it to the preview URL `url` (the Worker's loopback address, the URL's
/// host in `Host`), with the events of its body as they arrive.
function browse(url, { path = '/', onChunk, headers = {} } = {}) {
  const { host } = new URL(url);
  const { port } = new URL(stack.base);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { ...headers, host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
        onChunk?.(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/// Opens a WebSocket to the preview URL `url` (as a browser would: an HTTP upgrade with its host), sends `text`
/// and resolves with the text of the first message back.
function websocketEcho(url, text) {
  const { host } = new URL(url);
  const { port } = new URL(stack.base);
  const key = randomBytes(16).toString('base64');
  const headers = { host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13' };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers });
    req.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.on('upgrade', (res, socket) => {
      const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) reject(new Error('a wrong Sec-WebSocket-Accept'));
      const payload = Buffer.from(text);
      const mask = randomBytes(4);
      const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i % 4])]);
      let received = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        received = Buffer.concat([received, chunk]);
        const length = received.length >= 2 ? received[1] & 0x7f : Infinity;
        if (received.length >= 2 + length) {
          resolve(received.subarray(2, 2 + length).toString());
          socket.destroy();
        }
      });
      socket.on('error', reject);
      socket.write(frame);
    });
    req.end();
  });
}

/// A WebSocket echo server in Python's standard library (the sandbox image has no WebSocket package).
const websocketServer = (port) => `
import base64, hashlib, socket, threading
def serve(c):
    data = b''
    while b'\\r\\n\\r\\n' not in data:
        more = c.recv(4096)
        if not more: return
        data += more
    keys = [l.split(':', 1)[1].strip() for l in data.decode().split('\\r\\n') if l.lower().startswith('sec-websocket-key:')]
    if not keys:
        c.sendall(b'HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\nconnection: close\\r\\n\\r\\nok'); c.close(); return
    accept = base64.b64encode(hashlib.sha1((keys[0] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
    c.sendall(('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n').encode())
    while True:
        head = c.recv(2)
        if len(head) < 2: return
        n = head[1] & 127
        mask = c.recv(4)
        payload = b''
        while len(payload) < n: payload += c.recv(n - len(payload))
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if head[0] & 15 == 8: return
        c.sendall(bytes([0x81, len(payload)]) + payload)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', ${port})); s.listen()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

describe('preview URLs', () => {
  test('an exposed port is served at its preview URL, and only with its token', async () => {
    const sandbox = fresh();
    const port = await freePort();
    await sandbox.exec('mkdir -p site && echo "<h1>hello from the sandbox</h1>" > site/index.html');
    const server = await sandbox.startProcess(`exec python3 -m http.server ${port} --bind 127.0.0.1 --directory site`);
    await server.waitForPort(port, { path: '/', timeout: 20000 });
    const exposed = await sandbox.exposePort(port, { name: 'site' });
    assert.equal(exposed.port, port);
    assert.equal(exposed.name, 'site');
    const { port: devPort } = new URL(stack.base);
    assert.match(exposed.url, new RegExp(`^http://${port}-${sandbox.id}-[a-z0-9]{16}\\.localhost:${devPort}/$`));
    const page = await browse(exposed.url, { path: '/index.html' });
    assert.equal(page.status, 200);
    assert.equal(page.body, '<h1>hello from the sandbox</h1>\n');
    // The same URL again, and in the list; the SDK's hostname is taken when it is the served domain, else refused.
    assert.equal((await sandbox.exposePort(port)).url, exposed.url);
    assert.equal((await sandbox.exposePort(port, { hostname: 'localhost' })).url, exposed.url);
    await assert.rejects(sandbox.exposePort(port, { hostname: 'example.com' }), (e) => e.code === 'VALIDATION_FAILED' && /serves preview URLs under "localhost:\d+"/.test(e.message));
    assert.deepEqual((await sandbox.getExposedPorts()).map((p) => p.url), [exposed.url]);

    const token16 = exposed.url.match(/-([a-z0-9]{16})\.localhost/)[1];
    const wrong = exposed.url.replace(token16, token16.split('').reverse().join(''));
    const refused = await browse(wrong);
    assert.equal(refused.status, 404);
    assert.equal(refused.body, 'Not found');
    const otherPort = exposed.url.replace(`${port}-`, `${port === 65535 ? 65534 : port + 1}-`);
    assert.deepEqual(await browse(otherPort).then((r) => [r.status, r.body]), [404, 'Not found']);

    await sandbox.unexposePort(port);
    assert.equal((await browse(exposed.url)).status, 404);
    await assert.rejects(sandbox.unexposePort(port), { code: 'PORT_NOT_EXPOSED', status: 404 });
    await assert.rejects(sandbox.exposePort(3000), { code: 'VALIDATION_FAILED', status: 400 });
    await assert.rejects(sandbox.exposePort(80), { code: 'VALIDATION_FAILED', status: 400 });
    await server.kill();
  });

  test("an app gets what a browser sends to its own host, nothing of ours, and its cookies stay on its host", async () => {
    const sandbox = fresh();
    const port = await freePort();
    // An app that answers with the headers it got, sets a cookie for the whole preview domain and one of its own
    // host, and asks for the weakest referrer policy.
    const app = [
      'import http.server, json',
      'class H(http.server.BaseHTTPRequestHandler):',
      '    def do_GET(self):',
      '        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()',
      '        self.send_response(200)',
      "        self.send_header('content-type', 'application/json')",
      "        self.send_header('set-cookie', 'wide=1; Domain=localhost; Path=/')",
      "        self.send_header('set-cookie', 'own=2; Path=/; HttpOnly; Expires=Wed, 21 Oct 2037 07:28:00 GMT')",
      "        self.send_header('referrer-policy', 'unsafe-url')",
      "        self.send_header('content-length', str(len(body)))",
      '        self.end_headers(); self.wfile.write(body)',
      `http.server.HTTPServer(('127.0.0.1', ${port}), H).serve_forever()`,
    ].join('\n');
    await sandbox.writeFile('/workspace/echo.py', app);
    const server = await sandbox.startProcess('exec python3 echo.py');
    await server.waitForPort(port, { timeout: 20000 });
    const { url } = await sandbox.exposePort(port);
    const page = await browse(url, {
      headers: { cookie: 'mine=3', 'x-sandbox-id': 'victim', 'x-sandbox-agent-token': 'forged', 'x-agent-boot-expected': 'b', 'x-forwarded-host': 'kept' },
    });
    assert.equal(page.status, 200, page.body);
    const seen = JSON.parse(page.body);
    assert.deepEqual(Object.keys(seen).filter((h) => h.startsWith('x-sandbox-') || h.startsWith('x-agent-')), [], page.body);
    assert.equal(seen.cookie, 'mine=3');
    assert.deepEqual(page.headers['set-cookie'], ['wide=1; Path=/', 'own=2; Path=/; HttpOnly; Expires=Wed, 21 Oct 2037 07:28:00 GMT']);
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    await server.kill();
  });

  test("a local sandbox's port of the agent's number is its own app's, never the host agent", async (t) => {
    if (stack.containers) return t.skip('deployed and in containers the agent owns port 3000, which is refused');
    if (!stack.isolated) return t.skip('bubblewrap cannot make namespaces here: the sandbox shares the host network');
    const sandbox = fresh();
    const port = stack.agent.port;
    await sandbox.exec('mkdir -p own && echo "the sandbox app" > own/index.html');
    const server = await sandbox.startProcess(`exec python3 -m http.server ${port} --bind 127.0.0.1 --directory own`);
    await server.waitForPort(port, { path: '/', timeout: 20000 });
    const { url } = await sandbox.exposePort(port);
    const page = await browse(url, { path: '/index.html' });
    assert.deepEqual([page.status, page.body], [200, 'the sandbox app\n']);
    await server.kill();
  });

  test('server-sent events reach the browser one by one through the preview URL', async () => {
    const sandbox = fresh();
    const port = await freePort();
    // HTTP/1.1 with chunked frames, as SSE servers send them. (An HTTP/1.0 body that ends only with its connection
    // streams, but does not end, through a local container's port: see ARCHITECTURE, preview URLs.)
    const app = [
      'import http.server, time',
      'class H(http.server.BaseHTTPRequestHandler):',
      "    protocol_version = 'HTTP/1.1'",
      '    def do_GET(self):',
      '        self.send_response(200)',
      "        self.send_header('content-type', 'text/event-stream')",
      "        self.send_header('transfer-encoding', 'chunked')",
      '        self.end_headers()',
      '        for i in range(3):',
      "            d = f'data: {i}\\n\\n'.encode()",
      "            self.wfile.write(b'%x\\r\\n' % len(d) + d + b'\\r\\n'); self.wfile.flush(); time.sleep(0.4)",
      "        self.wfile.write(b'0\\r\\n\\r\\n')",
      `http.server.HTTPServer(('127.0.0.1', ${port}), H).serve_forever()`,
    ].join('\n');
    await sandbox.writeFile('/workspace/sse.py', app);
    const server = await sandbox.startProcess('exec python3 sse.py');
    await server.waitForPort(port, { timeout: 20000 });
    const { url } = await sandbox.exposePort(port);
    const arrivals = [];
    const t0 = Date.now();
    const res = await browse(url, { onChunk: (chunk) => arrivals.push([Date.now() - t0, chunk]) });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'data: 0\n\ndata: 1\n\ndata: 2\n\n');
    assert.ok(arrivals.length >= 3, JSON.stringify(arrivals));
    assert.ok(arrivals.at(-1)[0] - arrivals[0][0] >= 600, `the events came together: ${JSON.stringify(arrivals)}`);
    await server.kill();
  });

  test("a download from the app counts as in flight until its last byte, so it keeps its sandbox awake", async () => {
    const sandbox = fresh();
    const port = await freePort();
    // The app sends its first part, then the rest only once the test says so (the file `go`).
    const app = [
      'import http.server, os, time',
      'class H(http.server.BaseHTTPRequestHandler):',
      "    protocol_version = 'HTTP/1.1'",
      '    def do_GET(self):',
      '        self.send_response(200)',
      "        self.send_header('content-type', 'application/octet-stream')",
      "        self.send_header('transfer-encoding', 'chunked')",
      '        self.end_headers()',
      "        self.wfile.write(b'5\\r\\nfirst\\r\\n'); self.wfile.flush()",
      "        while not os.path.exists('go'): time.sleep(0.02)",
      "        self.wfile.write(b'4\\r\\nlast\\r\\n0\\r\\n\\r\\n'); self.wfile.flush()",
      `http.server.HTTPServer(('127.0.0.1', ${port}), H).serve_forever()`,
    ].join('\n');
    await sandbox.writeFile('/workspace/slow.py', app);
    const server = await sandbox.startProcess('exec python3 slow.py');
    await server.waitForPort(port, { timeout: 20000 });
    const { url } = await sandbox.exposePort(port);
    const inFlight = async () => (await sandbox.status()).inFlight;
    let firstSeen;
    const first = new Promise((resolve) => (firstSeen = resolve));
    const download = browse(url, { onChunk: (chunk) => firstSeen(chunk) });
    assert.equal(await first, 'first');
    assert.equal(await inFlight(), 1, 'the download is in flight while its body is still coming');
    await sandbox.writeFile('/workspace/go', '');
    const res = await download;
    assert.equal(res.body, 'firstlast');
    let left = await inFlight();
    for (let i = 0; i < 50 && left !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      left = await inFlight();
    }
    assert.equal(left, 0, 'the call ended with its body');
    await server.kill();
  });

  test('a WebSocket reaches the app through the preview URL (hot reload works)', async () => {
    const sandbox = fresh();
    const port = await freePort();
    await sandbox.writeFile('/workspace/ws.py', websocketServer(port));
    const server = await sandbox.startProcess('exec python3 ws.py');
    await server.waitForPort(port, { path: '/', timeout: 20000 });
    const { url } = await sandbox.exposePort(port);
    assert.equal(await websocketEcho(url, 'hello over a preview'), 'hello over a preview');
    await server.kill();
  });
});
