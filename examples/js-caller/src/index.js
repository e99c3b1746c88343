// A Worker that uses sandbox-rs the way the Sandbox SDK's docs use `@cloudflare/sandbox`. Each example of the
// createSession page is below as the docs have it, with only the import changed; a `return` at its end hands
// back what the docs print, so that a test can check it. `POST /examples/{name}` runs one, `GET /` lists them.
import { getSandbox } from 'sandbox-rs';

const examples = {
  // "Create a session with custom environment"
  async 'custom-environment'(env) {
    const sandbox = getSandbox(env.SANDBOX, 'my-sandbox');

    // Create a session with custom environment
    const session = await sandbox.createSession({
      name: 'data-analysis',
      env: {
        API_KEY: 'secret-key',
        DEBUG: 'true'
      },
      cwd: '/workspace/analysis'
    });

    // Use the session - all operations use session context
    const result = await session.exec('echo $API_KEY');
    console.log(result.stdout); // "secret-key"

    const files = await session.listFiles('.');
    console.log(files); // Lists /workspace/analysis

    return { stdout: result.stdout, files };
  },

  // "Example: Multiple Isolated Sessions"
  async 'isolated-sessions'(env) {
    const sandbox = getSandbox(env.SANDBOX, 'my-sandbox');

    // Create sessions for different users
    const user1Session = await sandbox.createSession({
      id: 'user-1',
      env: { USER_ID: '1' },
      cwd: '/workspace/user1'
    });

    const user2Session = await sandbox.createSession({
      id: 'user-2',
      env: { USER_ID: '2' },
      cwd: '/workspace/user2'
    });

    // Each session has isolated state
    await user1Session.exec('export TOKEN=abc123');
    await user2Session.exec('export TOKEN=xyz789');

    const result1 = await user1Session.exec('echo $TOKEN');
    console.log(result1.stdout); // "abc123"

    const result2 = await user2Session.exec('echo $TOKEN');
    console.log(result2.stdout); // "xyz789"

    // What the sandbox holds now; then the sessions go, so that this example can run again.
    const { sessions } = await sandbox.listSessions();
    await sandbox.deleteSession(user1Session.id);
    await sandbox.deleteSession(user2Session.id);

    return {
      result1: result1.stdout,
      result2: result2.stdout,
      sessions: sessions.filter((s) => s.id.startsWith('user-')).map((s) => [s.id, s.cwd]),
    };
  },

  // "Example: Session with Cleanup"
  async 'session-cleanup'(env) {
    const sandbox = getSandbox(env.SANDBOX, 'my-sandbox');

    const session = await sandbox.createSession({
      name: 'temp-work',
      cwd: '/tmp/session'
    });

    let installed, tested;
    try {
      // Do work in session
      installed = await session.exec('npm install');
      tested = await session.exec('npm test');
    } finally {
      // Cleanup
      await sandbox.deleteSession(session.id);
    }

    const after = await session.exec('echo still here').then(
      (result) => ({ stdout: result.stdout }),
      (error) => ({ code: error.code, status: error.status }),
    );
    return { sessionId: session.id, after, npm: [installed.exitCode, tested.exitCode], tested: tested.stdout };
  },

  // "The sandbox automatically creates a default session for non-session methods"
  async 'default-session'(env) {
    const sandbox = getSandbox(env.SANDBOX, 'my-sandbox');

    await sandbox.exec('export FROM_DEFAULT=yes; cd /workspace');
    const session = await sandbox.createSession({ env: { FROM_SESSION: 'yes' } });
    const inDefault = await sandbox.exec('echo "$FROM_DEFAULT ${FROM_SESSION:-unset}"');
    const inSession = await session.exec('echo "${FROM_DEFAULT:-unset} $FROM_SESSION"');
    await sandbox.writeFile('/workspace/shared.txt', 'one filesystem');
    const read = await session.readFile('/workspace/shared.txt');
    await sandbox.deleteSession(session.id);

    return { inDefault: inDefault.stdout, inDefaultSession: inDefault.sessionId, inSession: inSession.stdout, shared: read.content };
  },

  // A terminal of the Worker's own: type a command, read the screen until its answer, close.
  async 'terminal-command'(env) {
    const sandbox = getSandbox(env.SANDBOX, 'my-sandbox');

    const socket = await sandbox.openTerminal({ cols: 80, rows: 24 });
    const screen = await new Promise((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no answer on the terminal: ${JSON.stringify(text)}`)), 10000);
      const decoder = new TextDecoder();
      let order = Promise.resolve();
      socket.addEventListener('message', (event) => {
        if (typeof event.data === 'string') return; // control messages: ready, exit
        // The terminal's bytes (an ArrayBuffer, or a Blob where the runtime gives one), read in arrival order.
        order = order.then(async () => {
          const bytes = event.data instanceof ArrayBuffer ? event.data : await event.data.arrayBuffer();
          text += decoder.decode(bytes, { stream: true });
          if (text.includes('25 squared')) {
            clearTimeout(timer);
            resolve(text);
          }
        });
      });
      socket.send(new TextEncoder().encode('echo "$((5*5)) squared"\r'));
    });
    socket.close();

    return { answered: screen.includes('25 squared') };
  },

  // A dev server: started in the background unless it runs already (this example can run again), waited for
  // inside the sandbox, opened at its preview URL.
  async 'dev-server'(env) {
    const sandbox = getSandbox(env.SANDBOX, 'my-sandbox');

    await sandbox.writeFile('/workspace/site/index.html', '<h1>Hello from the sandbox</h1>');
    const running = await sandbox.getProcess('dev-server');
    const server = running && (await running.getStatus()) === 'running'
      ? running
      : await sandbox.startProcess('python3 -u -m http.server 0 --bind 127.0.0.1 --directory /workspace/site', {
        processId: 'dev-server',
      });
    // It picks a free port and says which.
    const { line } = await server.waitForLog(/port \d+/);
    const port = Number(line.match(/port (\d+)/)[1]);
    await server.waitForPort(port, { path: '/' });
    const { url } = await sandbox.exposePort(port, { name: 'site' });

    return { url, port, status: await server.getStatus() };
  },
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    // A terminal on the sandbox for a browser's WebSocket: the upgrade passes straight through. The client opens it
    // only for a page of this Worker's own host (another site's page gets 403 CROSS_SITE_REFUSED, and so does a
    // rebound host name in local development); a real application also checks who the visitor is here.
    if (request.method === 'GET' && url.pathname === '/terminal') {
      const sandbox = getSandbox(env.SANDBOX, 'my-sandbox');
      const size = (name) => (url.searchParams.has(name) ? Number(url.searchParams.get(name)) : undefined);
      const options = { cols: size('cols'), rows: size('rows'), ptyId: url.searchParams.get('ptyId') ?? undefined };
      try {
        return await sandbox.terminal(request, Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
      } catch (error) {
        return Response.json({ code: error.code ?? 'INTERNAL_ERROR', message: error.message }, { status: error.status || 500 });
      }
    }
    if (request.method === 'GET' && url.pathname === '/') {
      return Response.json({ examples: Object.keys(examples), terminalPage: '/terminal.html' });
    }
    const name = url.pathname.match(/^\/examples\/([a-z-]+)$/)?.[1];
    if (request.method !== 'POST' || !name || !(name in examples)) {
      return Response.json({ code: 'NOT_FOUND', message: 'POST /examples/{name}; GET / lists them' }, { status: 404 });
    }
    try {
      return Response.json(await examples[name](env));
    } catch (error) {
      return Response.json({ code: error.code ?? 'INTERNAL_ERROR', message: error.message, status: error.status }, { status: 500 });
    }
  },
};
