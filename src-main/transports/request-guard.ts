/**
 * The checks every browser-mode request passes before it reaches the api:
 * the token (URL once, then a cookie or a header), the Host header (a page on
 * another site that rebinds its DNS name to 127.0.0.1 still sends its own name)
 * and the Origin (no cross-site requests, also for WebSocket upgrades).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';

export const TOKEN_COOKIE = 'lejepa_studio_token';
export const TOKEN_HEADER = 'x-studio-token';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function tokenMatches(expectedToken: string, given: string | undefined | null): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expectedToken);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `[::1]:8080` → `::1`, `Example.org:80` → `example.org`; undefined for garbage. */
export function hostOf(header: string): { name: string; port: string | undefined } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(header.trim());
  if (m === null) return undefined;
  return { name: m[1]!.replace(/^\[|\]$/g, '').toLowerCase(), port: m[2] };
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '::1']);
const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/**
 * Host names a request may carry for a server bound to `bindHost:port`. Bound to
 * loopback, only loopback names. Bound to an address or a name, that plus
 * loopback. Bound to every interface, any IP literal and this machine's name:
 * a DNS-rebinding page always sends a name it controls, never a bare address.
 */
export function hostAllowed(header: string | undefined, bindHost: string, port: number): boolean {
  if (header === undefined) return false;
  const host = hostOf(header);
  if (host === undefined) return false;
  if (host.port !== undefined && Number(host.port) !== port) return false;
  if (LOOPBACK_NAMES.has(host.name)) return true;
  const bound = bindHost.replace(/^\[|\]$/g, '').toLowerCase();
  if (host.name === bound) return true;
  if (WILDCARDS.has(bound)) {
    return isIP(host.name) !== 0 || host.name === hostname().toLowerCase();
  }
  return false;
}

/**
 * A request from a page must come from the studio's own origin. Requests with
 * no Origin (a terminal, a top-level navigation) are allowed; the token still
 * applies to them. `Sec-Fetch-Site`, when the browser sends it, must agree.
 */
export function originAllowed(
  origin: string | undefined,
  secFetchSite: string | undefined,
  host: string | undefined,
): boolean {
  if (secFetchSite !== undefined && !['same-origin', 'none'].includes(secFetchSite)) return false;
  if (origin === undefined) return true;
  if (host === undefined) return false;
  return origin === `http://${host}`;
}
