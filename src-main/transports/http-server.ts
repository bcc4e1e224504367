/**
 * Browser mode: the api over HTTP (`POST /api/call`, `POST /api/cancel`), its
 * events over a WebSocket (`/api/events`), the renderer build as static files,
 * and thumbnails from inside the workspace. Every request passes the guard in
 * request-guard.ts first; bodies are bounded, connections are bounded in count
 * and time, and a bad request never takes the server down.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';

import { logger } from '../log.ts';
import { contentSecurityPolicy } from './csp.ts';
import {
  TOKEN_COOKIE,
  TOKEN_HEADER,
  cookieValue,
  hostAllowed,
  newToken,
  originAllowed,
  tokenMatches,
} from './request-guard.ts';
import { resolveInside } from './safe-path.ts';
import type { StudioHost } from './studio-host.ts';

const log = logger('serve');

export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_CONNECTIONS = 128;
export const MAX_EVENT_CLIENTS = 16;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export interface HttpServerOptions {
  host: StudioHost;
  /** Folder of the built renderer (index.html + assets). */
  rendererDir: string;
  bindHost?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Fixed token (tests); a random one otherwise. */
  token?: string;
}

export interface RunningServer {
  /** The URL to open, token included. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (status === 413) res.setHeader('connection', 'close');
  sendJson(res, status, {
    ok: false,
    error: { kind: 'expected', code: `http_${status}`, message },
  });
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > MAX_BODY_BYTES) {
      reject(new HttpError(413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'The request body is not valid JSON.'));
      }
    });
  });
}

/** HTTP status for an api reply: the body says the rest. */
function statusOf(reply: { ok: boolean; error?: { kind: string; code: string } }): number {
  if (reply.ok || reply.error === undefined) return 200;
  if (reply.error.code === 'unknown_method') return 404;
  if (reply.error.code === 'invalid_request') return 400;
  if (reply.error.code === 'busy') return 429;
  if (reply.error.kind === 'cancelled') return 409;
  if (reply.error.kind === 'bug') return 500;
  return 422;
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningServer> {
  const { host: studio, rendererDir } = options;
  const bindHost = options.bindHost ?? '127.0.0.1';
  const token = options.token ?? newToken();
  let port = options.port ?? 0;
  const sockets = new Set<Socket>();
  // Cookies ignore the port: two studios on one machine (two workspaces) would
  // overwrite each other's token under one name, and the first tab would lose access.
  const cookieName = () => `${TOKEN_COOKIE}_${port}`;

  const authorised = (req: IncomingMessage, url: URL): boolean =>
    tokenMatches(token, cookieValue(req.headers.cookie, cookieName())) ||
    tokenMatches(token, req.headers[TOKEN_HEADER] as string | undefined) ||
    tokenMatches(token, url.searchParams.get('token'));

  /** Host, Origin and token, in that order; returns the refusal or undefined. */
  const guard = (req: IncomingMessage, url: URL): HttpError | undefined => {
    if (!hostAllowed(req.headers.host, bindHost, port))
      return new HttpError(403, 'The Host header does not name this server.');
    const api = url.pathname.startsWith('/api/');
    const fetchSite = api ? (req.headers['sec-fetch-site'] as string | undefined) : undefined;
    if (!originAllowed(req.headers.origin, fetchSite, req.headers.host))
      return new HttpError(403, 'Requests from other sites are refused.');
    if (!authorised(req, url))
      return new HttpError(
        401,
        'This studio needs its token: open the URL that `lejepa-studio serve` printed.',
      );
    return undefined;
  };

  const serveFile = (res: ServerResponse, path: string, html: boolean, hostHeader: string) => {
    const headers: Record<string, string> = {
      'content-type': MIME[extname(path).toLowerCase()] ?? 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': html ? 'no-store' : 'private, max-age=3600',
    };
    if (html) {
      headers['content-security-policy'] = contentSecurityPolicy({
        connect: [`ws://${hostHeader}`],
      });
      headers['x-frame-options'] = 'DENY';
    }
    res.writeHead(200, headers);
    createReadStream(path)
      .on('error', () => res.destroy())
      .pipe(res);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://studio.invalid');
    } catch {
      throw new HttpError(400, 'The request URL is malformed.');
    }
    const refusal = guard(req, url);
    if (refusal !== undefined) throw refusal;
    const hostHeader = req.headers.host!;

    if (url.pathname === '/api/call' || url.pathname === '/api/cancel') {
      if (req.method !== 'POST') throw new HttpError(405, 'Use POST for api calls.');
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json')
        throw new HttpError(415, 'Api calls must be sent as application/json.');
      const body = await readBody(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new HttpError(400, 'The request body must be a JSON object.');
      const b = body as Record<string, unknown>;
      if (url.pathname === '/api/cancel') {
        sendJson(res, 200, { ok: true, result: { cancelled: studio.cancel(b.requestId) } });
        return;
      }
      const reply = await studio.call(b.method, b.input, b.requestId);
      sendJson(res, statusOf(reply), reply);
      return;
    }

    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new HttpError(405, 'Only GET is served here.');

    if (url.pathname.startsWith('/api/thumbs/')) {
      const found = resolveInside(
        studio.ws.path('thumbs'),
        url.pathname.slice('/api/thumbs/'.length),
      );
      if (!found.ok) throw new HttpError(found.status, found.reason);
      serveFile(res, found.path, false, hostHeader);
      return;
    }
    if (url.pathname.startsWith('/api/')) throw new HttpError(404, 'No such api route.');

    // The token may arrive in the URL once; it is then kept in a cookie, and the
    // page removes it from the address bar (a redirect would lose a strict cookie
    // when the link was followed from another site).
    if (url.searchParams.has('token'))
      res.setHeader('set-cookie', `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    const relPath = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    if (relPath === 'index.html' && !existsSync(join(rendererDir, 'index.html')))
      throw new HttpError(503, 'The UI is not built yet: run `npm run build:renderer`.');
    const found = resolveInside(rendererDir, relPath);
    if (!found.ok) throw new HttpError(found.status, found.reason);
    serveFile(res, found.path, found.path.endsWith('.html'), hostHeader);
  };

  const server = createServer({ requestTimeout: 60_000, headersTimeout: 15_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) sendError(res, err.status, err.message);
      else {
        log.error(`request ${req.method} ${req.url} failed: ${String(err)}`);
        sendError(res, 500, 'The studio could not answer this request. The log has the details.');
      }
      // A refused upload is not read to its end: close the connection instead.
      if (err instanceof HttpError && err.status === 413) res.on('finish', () => req.destroy());
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const clients = new Set<WebSocket>();
  const unsubscribe = studio.onEvent((event) => {
    const text = JSON.stringify(event);
    for (const client of clients) {
      // A client that stopped reading is dropped rather than buffered without bound.
      if (client.bufferedAmount > 8 * 1024 * 1024) client.terminate();
      else client.send(text);
    }
  });
  server.on('upgrade', (req, socket, head) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://studio.invalid');
    } catch {
      socket.destroy();
      return;
    }
    const refusal =
      url.pathname !== '/api/events'
        ? new HttpError(404, 'No such WebSocket route.')
        : req.headers.origin === undefined && req.headers['sec-fetch-site'] !== undefined
          ? new HttpError(403, 'A WebSocket from a page must send its Origin.')
          : clients.size >= MAX_EVENT_CLIENTS
            ? new HttpError(503, 'Too many open event streams.')
            : guard(req, url);
    if (refusal !== undefined) {
      socket.end(`HTTP/1.1 ${refusal.status} Refused\r\nconnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (client) => {
      clients.add(client);
      client.on('close', () => clients.delete(client));
      client.on('error', () => client.terminate());
      // The stream is one-way; anything the page sends is ignored.
      client.on('message', () => {});
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bindHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  const urlHost = ['0.0.0.0', '::'].includes(bindHost) ? '127.0.0.1' : shownHost;
  return {
    url: `http://${urlHost}:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        unsubscribe();
        for (const client of clients) client.terminate();
        wss.close();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
