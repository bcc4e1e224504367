import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';

import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import {
  MAX_BODY_BYTES,
  startHttpServer,
  type RunningServer,
} from '../../src-main/transports/http-server.ts';
import { createStudioHost, type StudioHost } from '../../src-main/transports/studio-host.ts';

const TOKEN = 'test-token-0123456789abcdef';
let server: RunningServer;
let host: StudioHost;
let outside: string;

before(async () => {
  const base = mkdtempSync(join(tmpdir(), 'lejepa-http-'));
  const rendererDir = join(base, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>studio</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  outside = join(base, 'secret.txt');
  writeFileSync(outside, 'not for the browser');
  symlinkSync(outside, join(rendererDir, 'assets', 'link-out.js'));
  const ws = openWorkspace(join(base, 'ws'));
  writeFileSync(ws.path('thumbs', 'a.webp'), 'thumb');
  symlinkSync(outside, ws.path('thumbs', 'evil.webp'));
  host = createStudioHost(ws);
  server = await startHttpServer({ host, rendererDir, token: TOKEN });
});

after(async () => {
  await server.close();
  host.close();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with full control over the headers (fetch would not let us forge Host). */
function raw(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: options.method ?? 'GET',
        agent: false,
        headers: { host: `127.0.0.1:${server.port}`, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    // A server that closes an oversized upload early may reset the socket mid-write.
    req.on('error', reject);
    req.end(options.body);
  });
}

const withToken = { 'x-studio-token': TOKEN };
const call = (body: unknown, headers: Record<string, string> = withToken) =>
  raw('/api/call', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function stillUp(): Promise<void> {
  const r = await call({ method: 'studio.info', input: {} });
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).ok, true);
}

test('a call with the token reaches the api', async () => {
  const r = await call({ method: 'studio.info', input: {} });
  assert.equal(r.status, 200);
  const reply = JSON.parse(r.body);
  assert.equal(reply.ok, true);
  assert.ok(reply.result.methods.some((m: { name: string }) => m.name === 'studio.info'));
});

test('no token and a wrong token are refused with 401', async () => {
  const attempts: Record<string, string>[] = [
    {},
    { 'x-studio-token': 'wrong' },
    { cookie: 'lejepa_studio_token=x' },
  ];
  for (const headers of attempts) {
    const r = await call({ method: 'studio.info', input: {} }, headers);
    assert.equal(r.status, 401);
    assert.match(JSON.parse(r.body).error.message, /token/);
  }
  assert.equal((await raw('/')).status, 401);
  assert.equal((await raw('/?token=nope')).status, 401);
  await stillUp();
});

test('the token in the URL sets a strict HttpOnly cookie that then suffices', async () => {
  const first = await raw(`/?token=${TOKEN}`);
  assert.equal(first.status, 200);
  const cookie = String(first.headers['set-cookie']);
  // Named by port: a second studio on this machine must not overwrite this one's cookie.
  assert.match(cookie, new RegExp(`^lejepa_studio_token_${server.port}=${TOKEN};`));
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.match(String(first.headers['content-security-policy']), /script-src 'self'/);
  const r = await call({ method: 'studio.info', input: {} }, { cookie: cookie.split(';')[0]! });
  assert.equal(r.status, 200);
});

test('a wrong Host header (DNS rebinding) is refused with 403', async () => {
  for (const h of ['evil.example', `evil.example:${server.port}`, `127.0.0.1:1`, 'a b', '[::1']) {
    const r = await call({ method: 'studio.info', input: {} }, { ...withToken, host: h });
    assert.ok([400, 403].includes(r.status), `Host ${JSON.stringify(h)} gave ${r.status}`);
  }
  const ok = await call(
    { method: 'studio.info', input: {} },
    {
      ...withToken,
      host: `localhost:${server.port}`,
    },
  );
  assert.equal(ok.status, 200);
});

test('a foreign Origin or a cross-site fetch is refused with 403', async () => {
  const foreign: Record<string, string>[] = [
    { origin: 'http://evil.example' },
    { origin: 'null' },
    { origin: `http://127.0.0.1:${server.port + 1}` },
    { 'sec-fetch-site': 'cross-site' },
  ];
  for (const extra of foreign) {
    const r = await call({ method: 'studio.info', input: {} }, { ...withToken, ...extra });
    assert.equal(r.status, 403, JSON.stringify(extra));
  }
  const same = await call(
    { method: 'studio.info', input: {} },
    {
      ...withToken,
      origin: `http://127.0.0.1:${server.port}`,
      'sec-fetch-site': 'same-origin',
    },
  );
  assert.equal(same.status, 200);
});

test('oversized bodies are refused with 413 and the server stays up', async () => {
  const big = JSON.stringify({ method: 'studio.info', input: { pad: 'x'.repeat(MAX_BODY_BYTES) } });
  const r = await call(big).catch((err: NodeJS.ErrnoException) => ({ status: err.code }));
  assert.ok(
    r.status === 413 || r.status === 'ECONNRESET' || r.status === 'EPIPE',
    String(r.status),
  );
  await stillUp();
});

test('malformed JSON, a non-object body and a wrong content type are refused', async () => {
  assert.equal((await call('{"method": ')).status, 400);
  assert.equal((await call('[1,2]')).status, 400);
  assert.equal((await call('"text"')).status, 400);
  const form = await raw('/api/call', {
    method: 'POST',
    headers: { ...withToken, 'content-type': 'text/plain' },
    body: '{}',
  });
  assert.equal(form.status, 415);
  assert.equal((await raw('/api/call', { headers: withToken })).status, 405);
  await stillUp();
});

test('an unknown method or invalid input is a typed error', async () => {
  const unknown = await call({ method: 'fs.readFile', input: { path: '/etc/passwd' } });
  assert.equal(unknown.status, 404);
  assert.equal(JSON.parse(unknown.body).error.code, 'unknown_method');
  const invalid = await call({ method: 'studio.settings.set', input: { threads: -3 } });
  assert.equal(invalid.status, 400);
  const reply = JSON.parse(invalid.body);
  assert.equal(reply.error.code, 'invalid_request');
  assert.match(reply.error.message, /threads/);
  const badId = await call({ method: 'studio.info', input: {}, requestId: '../../x' });
  assert.equal(badId.status, 400);
});

test('static files resolve only inside the renderer folder', async () => {
  assert.equal((await raw('/assets/app.js', { headers: withToken })).status, 200);
  const attempts: [string, number[]][] = [
    ['/../secret.txt', [403, 404]],
    ['/assets/../../secret.txt', [403, 404]],
    ['/%2e%2e/secret.txt', [403, 404]],
    ['/assets/%2e%2e%2f%2e%2e%2fsecret.txt', [403]],
    ['/%2fetc%2fpasswd', [403, 404]],
    ['//etc/passwd', [403, 404]],
    ['/assets/..%5c..%5csecret.txt', [400]],
    ['/assets/link-out.js', [403]],
    ['/assets/%00.js', [400]],
    ['/%E0%A4%A', [400]],
  ];
  for (const [path, statuses] of attempts) {
    const r = await raw(path, { headers: withToken });
    assert.ok(statuses.includes(r.status), `${path} gave ${r.status}`);
    assert.doesNotMatch(r.body, /not for the browser|root:/);
  }
  await stillUp();
});

test('thumbnails come only from inside the workspace thumbs folder', async () => {
  const ok = await raw('/api/thumbs/a.webp', { headers: withToken });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'thumb');
  for (const path of [
    '/api/thumbs/evil.webp',
    '/api/thumbs/../catalog.sqlite',
    '/api/thumbs/%2e%2e/catalog.sqlite',
    '/api/thumbs/%2e%2e%2fcatalog.sqlite',
    `/api/thumbs/${encodeURIComponent(outside)}`,
  ]) {
    const r = await raw(path, { headers: withToken });
    assert.ok([403, 404].includes(r.status), `${path} gave ${r.status}`);
    assert.doesNotMatch(r.body, /not for the browser|SQLite/);
  }
  assert.equal((await raw('/api/thumbs/a.webp')).status, 401);
});

function openEvents(headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/events`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

test('the event stream pushes api events and refuses foreign origins and missing tokens', async () => {
  const origin = `http://127.0.0.1:${server.port}`;
  await assert.rejects(openEvents({ origin }), /status 401/);
  await assert.rejects(openEvents({ ...withToken, origin: 'http://evil.example' }), /status 403/);
  const ws = await openEvents({ ...withToken, origin });
  const received = new Promise<unknown>((resolve) =>
    ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()))),
  );
  host.emit({ type: 'run.status', runId: 7, status: 'running' });
  assert.deepEqual(await received, { type: 'run.status', runId: 7, status: 'running' });
  ws.close();
});

test('many concurrent connections are answered and the server stays up', async () => {
  const replies = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      i % 2 === 0 ? call({ method: 'studio.info', input: {} }) : call('{', {}),
    ),
  );
  assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200, 401]));
  await stillUp();
});
