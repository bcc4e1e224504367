/**
 * The entry point of every job process. It waits for one `start` message, loads
 * the job's module, runs it, and sends its result or its error as data. Logs go
 * to the host (which writes them); if the host goes away the job stops at once,
 * keeping whatever it last wrote atomically. It ignores SIGINT: a Ctrl-C in the
 * terminal is the host's to act on.
 */
import { toErrorData } from '../api/errors.ts';
import { addLogSink, setConsoleLogging } from '../log.ts';
import type { ChildMessage, ControlAction, HostMessage, JobModule } from './protocol.ts';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function main(): Promise<void> {
  if (process.send === undefined) {
    process.stderr.write('This file runs as a job started by the studio, not on its own.\n');
    process.exit(2);
  }
  setConsoleLogging(false);
  addLogSink((record) => void send({ type: 'log', record }));
  process.on('disconnect', () => process.exit(1));
  // Ctrl-C in a terminal reaches the whole process group, this job included. The host
  // decides what a Ctrl-C means (cancel with a checkpoint), so the job waits for its
  // word; it still ends at once when the host goes away (the disconnect above).
  process.on('SIGINT', () => {});

  let requested: ControlAction | null = null;
  const controller = new AbortController();
  const start = await new Promise<Extract<HostMessage, { type: 'start' }>>((resolve) => {
    process.on('message', (raw: HostMessage) => {
      if (raw.type === 'start') resolve(raw);
      else if (raw.type === 'control') {
        requested ??= raw.action;
        if (raw.action === 'cancel') {
          requested = 'cancel';
          controller.abort();
        }
      }
    });
    void send({ type: 'ready', pid: process.pid });
  });

  try {
    const mod = (await import(start.module)) as JobModule;
    const out = await mod.run(
      {
        progress: (data) => void send({ type: 'progress', data }),
        event: (name, data) => void send({ type: 'event', name, data }),
        requested: () => requested,
        signal: controller.signal,
      },
      start.input,
    );
    await send({ type: 'result', end: out.end, data: out.data });
  } catch (err) {
    await send({ type: 'error', error: toErrorData(err) });
  }
  process.disconnect();
}

void main();
