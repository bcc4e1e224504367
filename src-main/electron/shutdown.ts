/**
 * Closing the app while a training runs: ask first, then stop each run at a
 * safe point with a checkpoint (the trainer's pause keeps one), and only then
 * quit. A run that does not answer within the grace period is left to the
 * catalog's interrupted-run recovery on the next start.
 */
import type { StudioHost } from '../transports/studio-host.ts';

export interface RunningRun {
  id: number;
  name: string;
}

export interface ShutdownDialog {
  /** Returns true when the user agrees to stop the runs (with a checkpoint) and quit. */
  confirmStop(runs: RunningRun[]): Promise<boolean>;
}

interface RunSummary {
  id: number;
  name?: string;
  status: string;
}

/** Runs whose status says a training process is working on them. */
export async function runningRuns(host: StudioHost): Promise<RunningRun[]> {
  const reply = await host.call('run.list', {});
  if (!reply.ok) return [];
  const result = reply.result as RunSummary[] | { runs: RunSummary[] };
  const runs = Array.isArray(result) ? result : result.runs;
  return runs
    .filter((r) => r.status === 'running' || r.status === 'queued')
    .map((r) => ({ id: r.id, name: r.name ?? `run ${r.id}` }));
}

/**
 * Decides whether the app may quit now. Resolves true when nothing runs, or the
 * user agreed and every run was paused (checkpointed); false when the user
 * chose to keep training.
 */
export async function prepareShutdown(
  host: StudioHost,
  dialog: ShutdownDialog,
  graceMs = 60_000,
): Promise<boolean> {
  const runs = await runningRuns(host);
  if (runs.length === 0) return true;
  if (!(await dialog.confirmStop(runs))) return false;
  // Pause asks each run to stop at its next step with a checkpoint; wait returns once it has.
  await Promise.all(
    runs.map(async (run) => {
      const paused = await host.call('run.pause', { id: run.id });
      if (!paused.ok) return;
      await Promise.race([
        host.call('run.wait', { id: run.id }),
        new Promise((resolve) => setTimeout(resolve, graceMs).unref()),
      ]);
    }),
  );
  return true;
}
