/**
 * Measures the Explore scatter in Chromium: 100,000 points (or `--points N`)
 * drawn while panning and zooming, plus hover picking and a lasso, through the
 * renderer's own bench page served by `lejepa-studio serve`. Prints the figures
 * and writes them to bench/results/scatter.json.
 *
 *   node --import tsx tests/e2e/measure-scatter.ts [--points N]
 *
 * Here Chromium renders WebGL in software (no GPU), so the frame rate is a floor.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { buildRenderer, launchBrowser, ROOT, startServe } from './harness.ts';

export interface ScatterFigures {
  points: number;
  frames: number;
  setupMs: number;
  medianSubmitMs: number;
  p95SubmitMs: number;
  framesPerSecond: number;
  pickMs: number;
  picked: number;
  lassoMs: number;
  inLasso: number;
  renderer: string;
}

/** `frames` drawn (default 120); the page has `timeoutMs` to finish (default 2 minutes). */
export async function measureScatter(
  points: number,
  options: { frames?: number; timeoutMs?: number } = {},
): Promise<ScatterFigures> {
  const served = await startServe();
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(served.url);
    await page.goto(
      `${served.origin}/bench/scatter.html#n=${points}&frames=${options.frames ?? 120}`,
    );
    const text = await page
      .locator('#result')
      .filter({ hasText: '{' })
      .innerText({ timeout: options.timeoutMs ?? 120_000 });
    return JSON.parse(text) as ScatterFigures;
  } finally {
    await browser.close();
    await served.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf('--points');
  const points = at >= 0 ? Number(process.argv[at + 1]) : 100_000;
  buildRenderer();
  const figures = await measureScatter(points);
  console.log(JSON.stringify(figures, null, 2));
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench', 'results', 'scatter.json'),
    JSON.stringify({ measuredAt: new Date().toISOString(), ...figures }, null, 2) + '\n',
  );
}
