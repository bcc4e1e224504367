/** Runs the real `lejepa-studio` CLI in a child process, for the dataset tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');
const BIN = join(REPO, 'bin', 'lejepa-studio.mjs');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Run as this user and group (only when the test runs as root). */
  uid?: number;
  env?: Record<string, string>;
  /** Working directory (default: the repository). */
  cwd?: string;
  /** Called with the child as soon as it starts (to kill it). */
  onSpawn?: (child: ChildProcess) => void;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return runNode([BIN, ...args], options);
}

/** Runs `import-host.ts` (an import host without the rest of the CLI): prints the summary. */
export function runImportHost(
  wsDir: string,
  name: string,
  paths: string[],
  options: CliOptions = {},
): Promise<CliRun> {
  const host = join(REPO, 'tests', 'datasets', 'import-host.ts');
  return runNode(['--import', 'tsx', host, wsDir, name, ...paths], options);
}

function runNode(args: string[], options: CliOptions): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, LEJEPA_LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    options.onSpawn?.(child);
  });
}

/** Parses the `--json` reply printed on stdout. */
export function jsonResult<T>(run: CliRun): T {
  const reply = JSON.parse(run.stdout) as { ok: boolean; result: T; error?: unknown };
  if (!reply.ok) throw new Error(`CLI failed: ${JSON.stringify(reply.error)}\n${run.stderr}`);
  return reply.result;
}
