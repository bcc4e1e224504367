/**
 * The import child process: scans folders and decodes files on request, and
 * sends results back in batches. Started with `child_process.fork` by
 * `importer.ts`. It exits when its parent goes away (IPC disconnect), so a
 * killed host never leaves it running. The decoder (and sharp with it) is loaded
 * on the first decode request, so that a re-scan of an unchanged folder does not
 * pay for loading it.
 */
import { toErrorData } from '../api/errors.ts';
import type { decodeForImport } from './decode.ts';
import type { DecodeJob, DecodeResult, FromWorker, ToWorker } from './import-protocol.ts';
import { scanFolder } from './scan.ts';

const BATCH = 256;
const FLUSH_MS = 100;

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) process.exit(0);
    process.send(message, undefined, {}, () => resolve());
  });
}

async function decodeAll(
  jobs: DecodeJob[],
  options: Parameters<typeof decodeForImport>[2],
  concurrency: number,
): Promise<void> {
  const { decodeForImport: decode, SkipError } = await import('./decode.ts');
  let pending: DecodeResult[] = [];
  let lastFlush = Date.now();
  let next = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const results = pending;
    pending = [];
    lastFlush = Date.now();
    await send({ type: 'decoded', results });
  };
  const lane = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      try {
        const facts = await decode(job.path, job.size, options);
        pending.push({ key: job.key, ok: true, facts });
      } catch (err) {
        if (!(err instanceof SkipError)) throw err;
        pending.push({ key: job.key, ok: false, code: err.code, message: err.message });
      }
      if (pending.length >= BATCH || Date.now() - lastFlush > FLUSH_MS) await flush();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  await flush();
  const cpu = process.cpuUsage();
  await send({ type: 'decode-done', cpuSeconds: (cpu.user + cpu.system) / 1e6 });
}

async function handle(message: ToWorker): Promise<void> {
  try {
    if (message.type === 'scan') {
      const results = message.roots.map((root) =>
        scanFolder(root, (found) => void send({ type: 'scan-progress', found }), message.skip),
      );
      const cpu = process.cpuUsage();
      await send({ type: 'scanned', results, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
    } else {
      await decodeAll(message.jobs, message.options, message.concurrency);
    }
  } catch (err) {
    await send({ type: 'error', error: toErrorData(err) });
  }
}

process.on('message', (message: ToWorker) => void handle(message));
process.on('disconnect', () => process.exit(0));
