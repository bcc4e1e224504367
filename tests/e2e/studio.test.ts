/**
 * The studio end to end in Chromium, against `lejepa-studio serve` on a fresh
 * workspace: import the bundled sample, curate, train (live curves, cancel,
 * resume), compare, embed and explore (hover, lasso → tag, neighbours), export,
 * with a screenshot of every view and an accessibility scan of each.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test, type TestContext } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';

import {
  axeSerious,
  buildRenderer,
  launchBrowser,
  screenshot,
  SCREENSHOTS,
  startServe,
  type Served,
} from './harness.ts';
import { largeDatasetWorkspace, largeFileName } from './large-dataset.ts';

let served: Served;
let browser: BrowserContext;
let page: Page;
const problems: string[] = [];
const axeFindings: string[] = [];
let methods = new Set<string>();

before(async () => {
  // Every screenshot in the folder comes from this run (a failed step leaves a gap, not an old picture).
  rmSync(SCREENSHOTS, { recursive: true, force: true });
  buildRenderer();
  served = await startServe();
  browser = await launchBrowser();
  page = await browser.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // CSP violations and script errors are reported on the console.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text());
  });
  await page.goto(served.url);
  await page.getByRole('heading', { name: 'Datasets', exact: true }).waitFor();
  methods = new Set(
    await page.evaluate(async () => {
      const r = await fetch('/api/call', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ method: 'studio.info', input: {} }),
      });
      const reply = (await r.json()) as { result: { methods: { name: string }[] } };
      return reply.result.methods.map((m) => m.name);
    }),
  );
});

after(async () => {
  await browser?.close();
  await served?.stop();
});

async function view(name: string): Promise<void> {
  await page.waitForTimeout(300);
  await screenshot(page, name);
  for (const v of await axeSerious(page))
    axeFindings.push(
      `${name}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.slice(0, 3).join(', ')}`,
    );
}

function needs(t: TestContext, ...names: string[]): boolean {
  const missing = names.filter((n) => !methods.has(n));
  if (missing.length > 0) t.skip(`the api has no ${missing.join(', ')} yet`);
  return missing.length === 0;
}

const call = <T>(method: string, input: unknown): Promise<T> =>
  page.evaluate(
    async ([m, i]) => {
      const r = await fetch('/api/call', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ method: m, input: i }),
      });
      const reply = (await r.json()) as {
        ok: boolean;
        result: unknown;
        error: { message: string };
      };
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.result;
    },
    [method, input] as const,
  ) as Promise<T>;

async function runStatus(id: number): Promise<{ status: string; step: number }> {
  return (await call<{ run: { status: string; step: number } }>('run.show', { id })).run;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  ms = 120_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('settings show the workspace and the machine', async () => {
  await page.goto(`${served.origin}/#/settings`);
  await page.getByText(served.workspace).waitFor();
  await page.getByText('What this machine offers').waitFor();
  // The probe loads each backend once; the table replaces the waiting line.
  await page.getByRole('columnheader', { name: 'Why not' }).waitFor({ timeout: 120_000 });
  await page.getByRole('cell', { name: 'wasm', exact: true }).waitFor();
  await view('settings');
});

test('a 70,000-image dataset scrolls in a grid that renders only the rows in view', async () => {
  const large = await largeDatasetWorkspace(70_000);
  // A second studio on this machine, in the same browser: each keeps its own token cookie.
  const other = await startServe(large.dir);
  const p = await browser.newPage();
  p.on('pageerror', (e) => problems.push(`page error (70k grid): ${e.message}`));
  try {
    await p.goto(other.url);
    await p.goto(`${other.origin}/#/datasets/${large.datasetId}`);
    await p.getByText('70,000 shown').waitFor({ timeout: 60_000 });
    const grid = p.getByRole('listbox', { name: /^Images \(70,000\)/ });
    await p.locator('.thumb img').first().waitFor();
    const cells = () => p.locator('[role=option]').count();
    const atTop = await cells();
    assert.ok(atTop > 0 && atTop < 400, `${atTop} cells exist at the top`);

    // Scroll to the very end: the last image is drawn, and still only the rows in view exist.
    await grid.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await p.locator('#item-69999 img').waitFor();
    assert.match(
      (await p.locator('#item-69999').getAttribute('aria-label')) ?? '',
      new RegExp(largeFileName(69_999)),
    );
    const atEnd = await cells();
    assert.ok(atEnd > 0 && atEnd < 400, `${atEnd} cells exist at the end`);
    assert.equal(await p.locator('#item-0').count(), 0, 'the first row left the page');
    await screenshot(p, 'dataset-70k-end');

    // Keyboard: Home goes back to the first image, Space selects it, End reaches the last.
    await grid.focus();
    await p.keyboard.press('Home');
    await p.locator('#item-0.cursor img').waitFor();
    await p.keyboard.press('Space');
    await p.getByText('1 selected').waitFor();
    await p.keyboard.press('End');
    await p.locator('#item-69999.cursor').waitFor();

    // Filters over all 70,000: class-3 in the test split is every 70th image from the 63rd.
    const filters = p.getByRole('form', { name: 'Filters' });
    await filters.getByRole('combobox', { name: /^Label/ }).selectOption('class-3');
    await p.getByText('7,000 shown').waitFor();
    await filters.getByRole('combobox', { name: /^Split/ }).selectOption('test');
    await p.getByText('1,000 shown').waitFor();
    for (const v of await axeSerious(p))
      axeFindings.push(`dataset-70k: ${v.id} (${v.impact}) ${v.help} at ${v.nodes[0]}`);
  } finally {
    await p.close();
    await other.stop();
  }
});

test('the bundled sample imports with live progress and fills the grid', async (t) => {
  if (!needs(t, 'dataset.import', 'dataset.items')) return;
  await page.goto(`${served.origin}/#/datasets`);
  await page.getByRole('button', { name: 'Import the bundled sample' }).click();
  await page.getByText('Open the dataset').waitFor({ timeout: 180_000 });
  assert.match(
    await page.locator('[role=status]', { hasText: 'images imported' }).innerText(),
    /4,000 images imported/,
  );
  await view('datasets');
  await page.getByText('Open the dataset').click();
  await page.locator('.thumb img').first().waitFor();
  assert.ok(
    (await page.locator('.thumb img').count()) < 400,
    'the grid renders only the rows in view',
  );
  await view('dataset');
});

test('images selected in the grid are tagged in bulk and the filter finds them', async (t) => {
  if (!needs(t, 'dataset.tag')) return;
  const thumbs = page.locator('.thumb');
  await thumbs.nth(0).click();
  await thumbs.nth(1).click();
  await thumbs.nth(2).click();
  await page.getByText('3 selected').waitFor();
  await page.getByPlaceholder('e.g. blurry').fill('e2e-picked');
  await page.getByRole('button', { name: 'Add tag' }).click();
  await page.getByText('Tagged “e2e-picked”: 3 images.').waitFor();
  await page.getByLabel('Has tag').selectOption('e2e-picked');
  await page.getByText('3 shown').waitFor();
  for (const tab of ['Skipped files', 'Duplicates', 'Splits and versions']) {
    await page.getByRole('tab', { name: tab }).click();
    await page.waitForTimeout(500);
    await view(`dataset-${tab.split(' ')[0]!.toLowerCase()}`);
  }
  await page.getByRole('button', { name: 'Freeze version' }).click();
  await page.getByText(/Version 1 frozen: [\d,]+ images/).waitFor();
});

let firstRun = 0;
test('a quick run starts from the form, its curves update, and it cancels and resumes', async (t) => {
  if (!needs(t, 'run.start', 'run.metrics', 'run.cancel', 'run.resume')) return;
  await page.getByRole('link', { name: 'New run…' }).first().click();
  const epochs = page.getByLabel('Epochs', { exact: true });
  await epochs.waitFor();
  await epochs.fill('0');
  await page.getByText('Epochs must be at least 1 (allowed 1–10000).').waitFor();
  await epochs.fill('30');
  await page.getByLabel('Image limit').fill('512');
  await page.getByLabel('Name').fill('e2e-first');
  // The estimate times a few real steps on the chosen backend.
  await page.getByRole('button', { name: 'Estimate time per epoch' }).click();
  const checkAndStart = page.locator('section[aria-label="Check and start"]');
  const estimate = await until('the estimate', async () => {
    const text = await checkAndStart.innerText();
    if ((await checkAndStart.getByRole('alert').count()) > 0)
      throw new Error(`the estimate failed: ${text}`);
    // innerText, not getByText: the sentence spans formatted lines of markup.
    return /On \w+: ([\d.]+) ms per step, .* about .+ per epoch\./.exec(text) ?? undefined;
  });
  assert.ok(Number(estimate[1]) > 0, `a step takes time: ${estimate[0]}`);
  await view('new-run');
  await page.getByRole('button', { name: 'Start training' }).click();
  await page.waitForURL(/#\/runs\/\d+$/);
  firstRun = Number(/#\/runs\/(\d+)$/.exec(page.url())![1]);

  // The live curves: the step shown grows and the loss chart has drawn points.
  const stepText = page.locator('[role=toolbar] strong').first();
  const early = await until('training steps', async () => {
    const n = Number((await stepText.innerText()).replace(/,/g, ''));
    return n >= 3 ? n : undefined;
  });
  await until('more steps on screen', async () =>
    Number((await stepText.innerText()).replace(/,/g, '')) > early ? true : undefined,
  );
  assert.ok((await page.locator('.uplot canvas').count()) >= 3);
  // The log tail shows the trainer's own line (backend and threads), refreshed while it runs.
  await page
    .getByLabel('Run log')
    .getByText(/backend \w+, \d+ threads?/)
    .waitFor({ timeout: 30_000 });
  await view('run');

  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor({ timeout: 60_000 });
  const stopped = (await runStatus(firstRun)).step;
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.locator('h1 .badge', { hasText: 'running' }).waitFor({ timeout: 60_000 });
  await until('steps after the resume', async () =>
    (await runStatus(firstRun)).step > stopped ? true : undefined,
  );
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('h1 .badge', { hasText: 'cancelled' }).waitFor({ timeout: 60_000 });
});

let secondRun = 0;
test('two runs compare with their differences highlighted and a label-free ranking', async (t) => {
  if (!needs(t, 'run.start', 'run.list')) return;
  const versions = await call<{ id: number }[]>('dataset.version.list', {});
  const run = await call<{ id: number }>('run.start', {
    datasetVersionId: versions[0]!.id,
    preset: 'quick',
    name: 'e2e-second',
    config: { lambda: 0.1, epochs: 1, trainLimit: 256 },
  });
  secondRun = run.id;
  await until('the second run to finish', async () => {
    const s = await runStatus(secondRun);
    return s.status === 'completed'
      ? true
      : s.status === 'failed'
        ? Promise.reject(new Error('run failed'))
        : undefined;
  });
  await page.goto(`${served.origin}/#/runs`);
  await page.getByRole('link', { name: 'e2e-second' }).waitFor();
  await view('runs');

  // Sorting by name flips the order; the search keeps only the matching run.
  const namesAre = (want: string[]) =>
    until(
      `the runs ${want.join(', ')}`,
      async () => {
        const got = await page.locator('tbody tr td:nth-child(3)').allInnerTexts();
        return got.join() === want.join() ? true : undefined;
      },
      10_000,
    );
  const search = page.getByRole('searchbox', { name: 'Search' });
  await page.getByRole('button', { name: /^Name/ }).click();
  await namesAre(['e2e-first', 'e2e-second']);
  await page.getByRole('button', { name: /^Name/ }).click();
  await namesAre(['e2e-second', 'e2e-first']);
  assert.equal(
    await page.getByRole('columnheader', { name: /^Name/ }).getAttribute('aria-sort'),
    'descending',
  );
  await search.fill('second');
  await namesAre(['e2e-second']);
  await search.fill('cancelled');
  await namesAre(['e2e-first']);
  await search.fill('');
  await page.getByLabel(`Select run ${firstRun} for comparison`).check();
  await page.getByLabel(`Select run ${secondRun} for comparison`).check();
  await page.getByRole('button', { name: /Compare 2 selected/ }).click();
  await page.getByText('Final metrics and label-free ranking').waitFor();
  const lambdaRow = page.locator('tr.diff', { hasText: 'lambda' });
  await lambdaRow.waitFor();
  assert.match(await lambdaRow.innerText(), /0\.05[\s\S]*0\.1|0\.1[\s\S]*0\.05/);
  assert.equal(await page.locator('section[aria-labelledby=rank-h] tbody tr').count(), 2);
  await view('compare');
});

test('an embedding explores: PCA scatter, hover thumbnail, lasso to tag, neighbours', async (t) => {
  if (!needs(t, 'embedding.create', 'projection.create', 'projection.data', 'embedding.neighbours'))
    return;
  await page.goto(`${served.origin}/#/explore`);
  await page.getByLabel('Run', { exact: true }).selectOption(String(secondRun));
  await page.getByRole('button', { name: 'Embed', exact: true }).click();
  await page.getByRole('button', { name: 'PCA' }).waitFor({ timeout: 180_000 });
  await page.getByRole('button', { name: 'PCA' }).click();
  const canvas = page.locator('.scatter-wrap canvas').first();
  await canvas.waitFor({ timeout: 120_000 });
  await page.getByText(/points · [\d.]+ ms per frame/).waitFor();
  // Isotropy diagnostics in words: a verdict, its spectrum and the effective rank.
  await page.getByRole('img', { name: /Covariance spectrum/ }).waitFor({ timeout: 120_000 });
  await page.locator('dt', { hasText: 'Effective rank' }).waitFor();
  const box = (await canvas.boundingBox())!;

  // Hover: sweep across the middle until a point answers with its thumbnail.
  let hovered = false;
  for (let i = 0; i < 40 && !hovered; i++) {
    await page.mouse.move(
      box.x + box.width * (0.3 + (i % 8) * 0.05),
      box.y + box.height * (0.35 + Math.floor(i / 8) * 0.07),
    );
    hovered = await page
      .locator('.hover-card img')
      .isVisible()
      .catch(() => false);
  }
  assert.ok(hovered, 'hovering a point shows its thumbnail');
  await view('explore-hover');

  // Lasso: Shift+drag a polygon around the centre.
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const r = Math.min(box.width, box.height) * 0.3;
  await page.keyboard.down('Shift');
  await page.mouse.move(cx - r, cy - r);
  await page.mouse.down();
  for (const [dx, dy] of [
    [r, -r],
    [r, r],
    [-r, r],
    [-r, -r],
  ] as const)
    await page.mouse.move(cx + dx, cy + dy, { steps: 5 });
  await page.mouse.up();
  await page.keyboard.up('Shift');
  const selected = Number(
    /([\d,]+) images selected/
      .exec(await page.getByText(/images selected/).innerText())![1]!
      .replace(/,/g, ''),
  );
  assert.ok(selected > 0, 'the lasso selects points');
  await page.getByPlaceholder('e.g. odd').fill('lasso-e2e');
  await page.getByRole('button', { name: 'Tag', exact: true }).click();
  await page.getByText(`Tagged ${selected} images “lasso-e2e”.`).waitFor();

  // Click a point: its nearest neighbours appear with thumbnails.
  for (let i = 0; i < 40; i++) {
    await page.mouse.click(
      box.x + box.width * (0.3 + (i % 8) * 0.05),
      box.y + box.height * (0.35 + Math.floor(i / 8) * 0.07),
    );
    if (
      await page
        .locator('.neighbours figure img')
        .nth(3)
        .isVisible()
        .catch(() => false)
    )
      break;
  }
  await page.locator('.neighbours figure img').nth(3).waitFor();
  await view('explore');
});

test('an export passes its parity check', async (t) => {
  if (!needs(t, 'export.create')) return;
  await page.goto(`${served.origin}/#/export`);
  await page.getByLabel('Run', { exact: true }).selectOption(String(secondRun));
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  await page.getByText(/Parity check:/).waitFor({ timeout: 240_000 });
  assert.match(await page.locator('#last-h').innerText(), /passed/);
  await view('export');
});

test('no view has a serious accessibility violation, a CSP violation or a script error', () => {
  assert.deepEqual(axeFindings, []);
  assert.deepEqual(problems, []);
});
