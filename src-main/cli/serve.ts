/**
 * `lejepa-studio serve`: the studio in a browser. Binds loopback unless told
 * otherwise, prints a URL with a fresh token, and runs until Ctrl-C. On the way
 * out, runs still training are paused with a checkpoint (as the desktop app does
 * when closed) before the catalog closes.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { expected } from '../api/errors.ts';
import { openWorkspace } from '../catalog/workspace.ts';
import { jobHost } from '../jobs/host.ts';
import { startHttpServer } from '../transports/http-server.ts';
import { createStudioHost, type StudioHost } from '../transports/studio-host.ts';
import { numberOption } from './args.ts';
import type { CliCommand } from './command.ts';

export const RENDERER_DIR = fileURLToPath(new URL('../../dist/renderer/', import.meta.url));

const BROWSERS = ['xdg-open', 'chromium', 'google-chrome', 'firefox'];

/** How long a stopping server waits for its runs to reach a checkpoint. */
export const SHUTDOWN_GRACE_MS = 30_000;

/**
 * Pauses every run this server is training (each stops after its step with a
 * checkpoint) and waits for them, at most `graceMs`. Returns the runs asked to
 * pause and those that did not stop in time: those are ended, and left to the
 * interrupted-run recovery of the next open, which resumes from their newest checkpoint.
 */
export async function pauseRunningRuns(
  host: StudioHost,
  graceMs = SHUTDOWN_GRACE_MS,
): Promise<{ paused: number[]; late: number[] }> {
  const listed = await host.call('run.list', {});
  if (!listed.ok) return { paused: [], late: [] };
  const ids = (listed.result as { id: number; status: string }[])
    .filter((r) => r.status === 'running' || r.status === 'queued')
    .map((r) => r.id);
  const late: number[] = [];
  await Promise.all(
    ids.map(async (id) => {
      const asked = await host.call('run.pause', { id });
      if (!asked.ok) return;
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([
        host.call('run.wait', { id }).then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
      ]);
      clearTimeout(timer);
      if (!stopped) late.push(id);
    }),
  );
  if (late.length > 0) jobHost(host.ws).killAll();
  return { paused: ids, late };
}

/** Opens `url` in the first browser found on PATH; false when there is none. */
function openBrowser(url: string): boolean {
  if (process.platform === 'darwin' || process.platform === 'win32') {
    const [cmd, args] =
      process.platform === 'darwin' ? ['open', [url]] : ['cmd', ['/c', 'start', '', url]];
    launch(cmd, args as string[]);
    return true;
  }
  const dirs = (process.env.PATH ?? '').split(':');
  const found = BROWSERS.find((b) => dirs.some((d) => d !== '' && existsSync(`${d}/${b}`)));
  if (found === undefined) return false;
  launch(found, [url]);
  return true;
}

/** Starts the browser on its own; a browser that fails to start must not take the server down. */
function launch(cmd: string, args: string[]): void {
  const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
  child.on('error', (err) =>
    process.stderr.write(`Could not start ${cmd} (${err.message}); open the URL by hand.\n`),
  );
  child.unref();
}

export const serveCommands: CliCommand[] = [
  {
    name: 'serve',
    usage: 'serve [--port N] [--host H] [--open]',
    summary: 'Serve the studio to a browser (loopback only unless --host is given).',
    options: {
      port: { type: 'string', help: 'port to listen on (default: a free one)' },
      host: {
        type: 'string',
        help: 'address to bind (default 127.0.0.1; anything else exposes the studio)',
      },
      open: { type: 'boolean', help: 'open the URL in a browser' },
    },
    async run(ctx, args) {
      const port = numberOption(args, 'port') ?? 0;
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw expected('invalid_option', `--port must be a whole number from 0 to 65535.`);
      const bindHost = typeof args.options.host === 'string' ? args.options.host : '127.0.0.1';
      if (!['127.0.0.1', 'localhost', '::1'].includes(bindHost))
        ctx.say(
          `warning: listening on ${bindHost}: anyone who can reach this address and has the token can use the studio and read the workspace. Prefer an SSH tunnel to 127.0.0.1.`,
        );
      if (!existsSync(`${RENDERER_DIR}index.html`))
        ctx.say('note: the UI is not built yet; run `npm run build:renderer` first.');

      const host = createStudioHost(openWorkspace(ctx.workspaceDir));
      let server;
      try {
        server = await startHttpServer({ host, rendererDir: RENDERER_DIR, bindHost, port });
      } catch (err) {
        host.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE')
          throw expected('port_in_use', `Port ${port} is in use. Pick another with --port.`);
        throw err;
      }
      ctx.say(`LeJEPA Studio is serving ${host.ws.root}`);
      ctx.say(`Open: ${server.url}`);
      if (args.options.open === true && !openBrowser(server.url))
        ctx.say('No browser was found here; open the URL above by hand.');

      // Runs until Ctrl-C (the CLI turns it into this abort signal).
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        process.once('SIGTERM', () => resolve());
      });
      ctx.say('Stopping the server…');
      await server.close();
      const { paused, late } = await pauseRunningRuns(host);
      if (paused.length > 0) {
        const kept = paused.filter((id) => !late.includes(id));
        if (kept.length > 0)
          ctx.say(
            `Paused run ${kept.join(', ')} with a checkpoint; continue with \`lejepa-studio run resume ID\`.`,
          );
        if (late.length > 0)
          ctx.say(
            `Run ${late.join(', ')} did not reach a checkpoint within ${SHUTDOWN_GRACE_MS / 1000} s; it resumes from its newest one.`,
          );
      }
      host.close();
      return { result: { url: server.url, stopped: true }, text: 'Stopped.' };
    },
  },
];
