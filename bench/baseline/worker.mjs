// The baseline Worker: `/v1/sandboxes/{id}/{rest}` goes to the Durable Object named `id`, which sends it to the
// agent at `AGENT_URL` as `/v1/{rest}` with the sandbox's id and the agent's token, body streamed, answer returned
// as it is. What sandbox-rs's Worker does on the exec path, without its checks, logs and recovery.
export class Forward {
  constructor(state, env) {
    this.env = env;
  }

  async fetch(request) {
    const url = new URL(request.url);
    const [, , , id, ...rest] = url.pathname.split('/');
    const headers = new Headers({ 'x-sandbox-id': id, 'x-sandbox-agent-token': this.env.AGENT_TOKEN });
    const type = request.headers.get('content-type');
    if (type) headers.set('content-type', type);
    return fetch(`${this.env.AGENT_URL}/v1/${rest.join('/')}${url.search}`, { method: request.method, headers, body: request.body });
  }
}

export default {
  async fetch(request, env) {
    const id = new URL(request.url).pathname.split('/')[3];
    if (!id) return new Response('not found', { status: 404 });
    return env.FORWARD.get(env.FORWARD.idFromName(id)).fetch(request);
  },
};
