/**
 * The Content-Security-Policy of the renderer, the same in browser mode and in
 * the desktop app: scripts and styles only from the app itself (no inline code,
 * no eval), no plugins, no frames, no form posts, no base-URL tricks.
 */
export function contentSecurityPolicy(
  options: { connect?: string[]; img?: string[] } = {},
): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob:${(options.img ?? []).map((s) => ` ${s}`).join('')}`,
    "font-src 'self'",
    `connect-src 'self'${(options.connect ?? []).map((s) => ` ${s}`).join('')}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
