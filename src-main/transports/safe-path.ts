/**
 * Turns a URL path into a file inside one folder, or nothing. Every form of
 * escape is refused: `..` segments (plain or percent-encoded), absolute paths,
 * backslashes, NUL bytes, and symlinks whose target lies outside the folder.
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

export type SafePathResult =
  { ok: true; path: string } | { ok: false; status: 400 | 403 | 404; reason: string };

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(sep));
}

/** `urlPath` is the raw (still encoded) path below the folder, e.g. `assets/app%20x.js`. */
export function resolveInside(root: string, urlPath: string): SafePathResult {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { ok: false, status: 400, reason: 'The path is not valid percent-encoding.' };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) {
    return { ok: false, status: 400, reason: 'The path holds a forbidden character.' };
  }
  const segments = decoded.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..') || isAbsolute(decoded.replace(/^\/+/, ''))) {
    return { ok: false, status: 403, reason: 'The path leaves the served folder.' };
  }
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return { ok: false, status: 404, reason: 'The served folder does not exist.' };
  }
  const candidate = resolve(realRoot, ...segments);
  if (!inside(realRoot, candidate)) {
    return { ok: false, status: 403, reason: 'The path leaves the served folder.' };
  }
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch {
    return { ok: false, status: 404, reason: 'No such file.' };
  }
  if (!inside(realRoot, real)) {
    return { ok: false, status: 403, reason: 'The path links outside the served folder.' };
  }
  try {
    if (!statSync(real).isFile()) return { ok: false, status: 404, reason: 'Not a file.' };
  } catch {
    return { ok: false, status: 404, reason: 'No such file.' };
  }
  return { ok: true, path: real };
}
