/**
 * `app://studio/...`: the renderer build and, under `/api/thumbs/`, thumbnails
 * from the workspace, through the same traversal-safe resolution as browser
 * mode. Pages get the strict CSP header.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

import { resolveInside } from '../transports/safe-path.ts';
import { APP_HOST, DESKTOP_CSP } from './security.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.json': 'application/json',
};

export function appProtocolHandler(rendererDir: string, thumbsDir: () => string) {
  return async (request: { url: string; method?: string }): Promise<Response> => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return new Response('Bad request', { status: 400 });
    }
    if (url.host !== APP_HOST || (request.method ?? 'GET') !== 'GET')
      return new Response('Not found', { status: 404 });
    const thumbs = url.pathname.startsWith('/api/thumbs/');
    const found = thumbs
      ? resolveInside(thumbsDir(), url.pathname.slice('/api/thumbs/'.length))
      : resolveInside(rendererDir, url.pathname === '/' ? 'index.html' : url.pathname.slice(1));
    if (!found.ok) return new Response(found.reason, { status: found.status });
    const type = TYPES[extname(found.path).toLowerCase()] ?? 'application/octet-stream';
    const headers: Record<string, string> = {
      'content-type': type,
      'x-content-type-options': 'nosniff',
    };
    if (type.startsWith('text/html')) headers['content-security-policy'] = DESKTOP_CSP;
    return new Response(await readFile(found.path), { status: 200, headers });
  };
}
