/**
 * Hostile requests against a real `lejepa-studio serve` process on 127.0.0.1
 * with a temporary workspace: no token, a wrong token, a wrong Host (DNS
 * rebinding), a foreign Origin, oversized and malformed bodies, unknown
 * methods, path traversal in every form on every path-taking route, hostile
 * WebSocket upgrades and 500 concurrent connections. Each is refused with the
 * right status; the server stays up; no byte outside the workspace is served
 * and nothing outside it is written.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { BIN, REPO, tempDir, until } from './helpers.ts';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-WORKSPACE';
let server: ChildProcess;
let port = 0;
let token = '';
let base = '';
let serverErr = '';
let outsideListing: string[] = [];

function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

before(async () => {
  base = tempDir('hostile');
  const wsDir = join(base, 'ws');
  mkdirSync(join(wsDir, 'thumbs'), { recursive: true });
  writeFileSync(join(base, 'secret.txt'), SECRET);
  writeFileSync(join(wsDir, 'thumbs', 'ok.webp'), 'thumb-bytes');
  symlinkSync(join(base, 'secret.txt'), join(wsDir, 'thumbs', 'link-out.webp'));
  symlinkSync(base, join(wsDir, 'thumbs', 'dir-out'));
  outsideListing = listing(base).filter((p) => !p.startsWith('ws'));
  server = spawn(process.execPath, [BIN, 'serve', '--workspace', wsDir, '--port', '0'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stderr!.on('data', (d: Buffer) => (serverErr += d.toString()));
  const url = await until(
    () => /Open: (http:\/\/\S+)/.exec(serverErr)?.[1],
    60_000,
    'the server URL',
    50,
  );
  const u = new URL(url);
  port = Number(u.port);
  token = u.searchParams.get('token')!;
  assert.equal(u.hostname, '127.0.0.1');
});

after(() => {
  server.kill('SIGTERM');
});

interface Raw {
  status: number;
  body: string;
}

function raw(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        agent: false,
        headers: { host: `127.0.0.1:${port}`, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const authed = (extra: Record<string, string> = {}) => ({ 'x-studio-token': token, ...extra });

function call(
  method: unknown,
  input: unknown,
  headers: Record<string, string> = authed(),
): Promise<Raw> {
  return raw('/api/call', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ method, input }),
  });
}

async function assertUp(): Promise<void> {
  assert.equal(server.exitCode, null, `the server exited: ${serverErr}`);
  const r = await call('studio.info', {});
  assert.equal(r.status, 200, r.body);
}

function assertTyped(r: Raw, status: number, label: string): void {
  assert.equal(r.status, status, `${label}: ${r.status} ${r.body.slice(0, 200)}`);
  const body = JSON.parse(r.body) as { ok: boolean; error: Record<string, unknown> };
  assert.equal(body.ok, false, label);
  for (const k of ['kind', 'code', 'message']) assert.equal(typeof body.error[k], 'string', label);
  assert.ok(!r.body.includes(SECRET), `${label}: leaked`);
}

test('token, Host and Origin: every hostile combination refused, the server stays up', async () => {
  const cases: [string, Record<string, string>, number][] = [
    ['no token', {}, 401],
    ['wrong token', { 'x-studio-token': 'x'.repeat(token.length) }, 401],
    ['token prefix', { 'x-studio-token': token.slice(0, -1) }, 401],
    ['empty token', { 'x-studio-token': '' }, 401],
    ['wrong cookie', { cookie: 'lejepa_studio_token=nope' }, 401],
    ['DNS rebinding Host', authed({ host: `evil.example:${port}` }), 403],
    ['suffix Host', authed({ host: `127.0.0.1.evil.example:${port}` }), 403],
    ['wrong port Host', authed({ host: `127.0.0.1:${port + 1}` }), 403],
    ['garbage Host', authed({ host: 'a b c' }), 403],
    ['foreign Origin', authed({ origin: 'http://evil.example' }), 403],
    ['null Origin', authed({ origin: 'null' }), 403],
    ['https Origin', authed({ origin: `https://127.0.0.1:${port}` }), 403],
    ['cross-site fetch', authed({ 'sec-fetch-site': 'cross-site' }), 403],
    ['same-site fetch', authed({ 'sec-fetch-site': 'same-site' }), 403],
  ];
  for (const [label, headers, status] of cases) {
    const r = await call('studio.info', {}, headers);
    assertTyped(r, status, label);
    // Sec-Fetch-Site is only checked on /api/ (a link from elsewhere may open the page).
    if (headers['sec-fetch-site'] !== undefined) continue;
    const page = await raw('/', { headers });
    assert.equal(page.status, status, `${label} on /`);
  }
  const wrongQuery = await raw(`/?token=${'y'.repeat(token.length)}`);
  assert.equal(wrongQuery.status, 401);
  await assertUp();
});

test('bodies: oversized, malformed, wrong type, unknown methods, wrong verbs', async () => {
  const json = { 'content-type': 'application/json', ...authed() };
  const big = Buffer.alloc(2 * 1024 * 1024, 'a');
  const families: [string, Promise<Raw>, number][] = [
    ['oversized body', raw('/api/call', { method: 'POST', headers: json, body: big }), 413],
    [
      'oversized declared length',
      raw('/api/call', {
        method: 'POST',
        headers: { ...json, 'content-length': String(1e9) },
        body: '{}',
      }).catch(() => ({
        status: 413,
        body: '{"ok":false,"error":{"kind":"x","code":"x","message":"reset"}}',
      })),
      413,
    ],
    [
      'malformed JSON',
      raw('/api/call', { method: 'POST', headers: json, body: '{"method":' }),
      400,
    ],
    ['JSON array', raw('/api/call', { method: 'POST', headers: json, body: '[1,2]' }), 400],
    ['JSON string', raw('/api/call', { method: 'POST', headers: json, body: '"x"' }), 400],
    ['empty body', raw('/api/call', { method: 'POST', headers: json, body: '' }), 400],
    [
      'text/plain',
      raw('/api/call', {
        method: 'POST',
        headers: { ...authed(), 'content-type': 'text/plain' },
        body: '{}',
      }),
      415,
    ],
    ['GET on /api/call', raw('/api/call', { headers: authed() }), 405],
    ['unknown method', call('fs.readFile', { path: '/etc/passwd' }), 404],
    ['method __proto__', call('__proto__', {}), 404],
    ['method not a string', call({ name: 'run.list' }, {}), 404],
    ['bad input', call('run.show', { id: '../../1' }), 400],
    ['unknown api route', raw('/api/../../etc/passwd', { headers: authed() }), 404],
    ['DELETE', raw('/', { method: 'DELETE', headers: authed() }), 405],
  ];
  for (const [label, pending, status] of families) {
    const r = await pending;
    if (label === 'unknown api route')
      assert.ok([403, 404].includes(r.status), `${label} ${r.status}`);
    else assertTyped(r, status, label);
    await assertUp();
  }
});

test('path traversal on every path-taking route: refused, nothing outside served', async () => {
  const good = await raw('/api/thumbs/ok.webp', { headers: authed() });
  assert.equal(good.status, 200);
  assert.equal(good.body, 'thumb-bytes');
  const attacks = [
    '../secret.txt',
    '../../secret.txt',
    '..%2fsecret.txt',
    '%2e%2e/secret.txt',
    '%2e%2e%2fsecret.txt',
    '%252e%252e%252fsecret.txt',
    '..%252fsecret.txt',
    '....//secret.txt',
    '..\\secret.txt',
    '..%5csecret.txt',
    `${encodeURIComponent(join(base, 'secret.txt'))}`,
    `%2F${encodeURIComponent(join(base, 'secret.txt').slice(1))}`,
    `/${join(base, 'secret.txt')}`,
    '/etc/passwd',
    '%2fetc%2fpasswd',
    'ok.webp%00.png',
    '%',
    '%zz',
    'link-out.webp',
    'dir-out/secret.txt',
    './../secret.txt',
    'ok.webp/../../secret.txt',
  ];
  let refused = 0;
  for (const route of ['/api/thumbs/', '/', '/assets/']) {
    for (const a of attacks) {
      const r = await raw(route + a, { headers: authed() });
      assert.ok([400, 403, 404, 503].includes(r.status), `${route}${a}: ${r.status}`);
      assert.ok(!r.body.includes(SECRET), `${route}${a} leaked the secret`);
      assert.ok(!r.body.includes('root:x:0:0'), `${route}${a} leaked /etc/passwd`);
      refused += 1;
    }
  }
  // Raw request lines that an HTTP client would normalise.
  for (const line of ['/api/thumbs/../../secret.txt', '/../secret.txt', '//etc/passwd']) {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          `GET ${line} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nx-studio-token: ${token}\r\nConnection: close\r\n\r\n`,
        ),
      );
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(text, /^HTTP\/1\.1 (400|403|404)/, `${line}: ${text.slice(0, 80)}`);
    assert.ok(!text.includes(SECRET));
    refused += 1;
  }
  assert.ok(refused >= 60, `${refused} traversal requests`);
  await assertUp();
  assert.deepEqual(
    listing(base).filter((p) => !p.startsWith('ws')),
    outsideListing,
    'nothing written outside the workspace',
  );
  assert.equal(statSync(join(base, 'secret.txt')).size, SECRET.length);
});

test('WebSocket upgrades: wrong route, foreign Origin, no token and wrong Host refused', async () => {
  const upgrade = (path: string, headers: Record<string, string>) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        const all = {
          host: `127.0.0.1:${port}`,
          upgrade: 'websocket',
          connection: 'Upgrade',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
          ...headers,
        };
        const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}`);
        socket.write(`GET ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (d: Buffer) => {
        data += d.toString();
        if (data.includes('\r\n\r\n')) socket.destroy();
      });
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
  const cases: [string, Record<string, string>, RegExp][] = [
    ['/api/nope', { 'x-studio-token': token }, /^HTTP\/1\.1 404/],
    ['/api/events', {}, /^HTTP\/1\.1 401/],
    ['/api/events', { 'x-studio-token': token, origin: 'http://evil.example' }, /^HTTP\/1\.1 403/],
    ['/api/events', { 'x-studio-token': token, host: 'evil.example' }, /^HTTP\/1\.1 403/],
    [`/api/events?token=${token}`, { 'sec-fetch-site': 'cross-site' }, /^HTTP\/1\.1 403/],
  ];
  for (const [path, headers, want] of cases) {
    const text = await upgrade(path, headers);
    assert.match(text, want, `${path} ${JSON.stringify(headers)}: ${text.slice(0, 60)}`);
  }
  const ok = await upgrade(`/api/events?token=${token}`, {});
  assert.match(ok, /^HTTP\/1\.1 101/);
  await assertUp();
});

test('500 concurrent connections (loopback, 10 s at most): bounded, and the server stays up', async () => {
  const sockets: ReturnType<typeof connect>[] = [];
  const opened = await Promise.all(
    Array.from(
      { length: 500 },
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect(port, '127.0.0.1');
          sockets.push(s);
          s.setTimeout(10_000, () => s.destroy());
          s.on('connect', () => {
            // Half a request: the slow-loris shape.
            s.write(`POST /api/call HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
    ),
  );
  assert.ok(opened.filter(Boolean).length > 0);
  // Many full requests at once while the half-open ones sit there.
  await Promise.all(sockets.slice(0, 400).map((s) => new Promise<void>((r) => (s.destroy(), r()))));
  const burst = await Promise.all(
    Array.from({ length: 100 }, () =>
      call('studio.info', {}).catch(() => ({ status: 0, body: '' })),
    ),
  );
  assert.ok(burst.filter((r) => r.status === 200).length >= 50, 'most of a burst answered');
  for (const s of sockets) s.destroy();
  await assertUp();
});
