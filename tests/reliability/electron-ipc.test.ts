/**
 * The Electron layer as a renderer would attack it (electron mocked, as in
 * tests/electron): only the contract channels have handlers; malformed calls
 * from the app page get typed errors; calls from any other sender get nothing;
 * and `desktop.showInFolder` reveals no folder outside the workspace, however
 * the path is spelled (`..`, a sibling with the same prefix, a symlink out).
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { startDesktop } from '../../src-main/electron/app.ts';
import { APP_ENTRY, CHANNELS } from '../../src-main/electron/security.ts';
import { fakeElectron } from '../electron/fake-electron.ts';
import { tempDir } from './helpers.ts';

async function started() {
  const fake = fakeElectron({});
  const base = tempDir('electron');
  const rendererDir = join(base, 'renderer');
  mkdirSync(rendererDir, { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>studio</title>');
  const workspaceDir = join(base, 'ws');
  const desktop = startDesktop(fake.electron, {
    rendererDir,
    preload: '/app/preload.cjs',
    workspaceDir,
  });
  await fake.ready();
  const win = fake.windows[0]!;
  const event = {
    sender: { id: win.webContents.id },
    senderFrame: { url: APP_ENTRY, parent: null },
  };
  return { fake, desktop, win, base, workspaceDir, event, close: () => desktop.host?.close() };
}

type Reply = { ok: boolean; error?: { kind: string; code: string; message: string } };

test('only the contract channels have handlers; 2,000 malformed IPC calls get typed errors', async () => {
  const { fake, event, close } = await started();
  assert.deepEqual([...fake.handlers.keys()].sort(), [CHANNELS.cancel, CHANNELS.invoke].sort());
  const invoke = fake.handlers.get(CHANNELS.invoke)!;
  const cancel = fake.handlers.get(CHANNELS.cancel)!;
  const values: unknown[] = [
    null,
    undefined,
    42,
    'x'.repeat(100_000),
    [],
    { __proto__: { polluted: 1 } },
    JSON.parse('{"__proto__":{"polluted":1}}'),
    JSON.parse('{"constructor":{"prototype":{"polluted":1}}}'),
    { id: 'one' },
    { id: -1 },
    { paths: ['../../etc'] },
  ];
  const names: unknown[] = [
    'fs.readFile',
    '__proto__',
    'constructor',
    '',
    null,
    7,
    {},
    'run.show',
    'desktop.showInFolder',
  ];
  let n = 0;
  for (let round = 0; round < 21; round++) {
    for (const name of names) {
      for (const input of values) {
        const reply = (await invoke(event, name, input, `r${n}`)) as Reply;
        n += 1;
        assert.equal(reply.ok, false, `${String(name)} ${JSON.stringify(input)?.slice(0, 80)}`);
        assert.equal(typeof reply.error!.code, 'string');
        assert.equal(typeof reply.error!.message, 'string');
        assert.notEqual(reply.error!.kind, 'bug', reply.error!.message);
      }
    }
  }
  assert.ok(n >= 2000, `${n} calls`);
  for (const id of [null, 5, {}, 'x'.repeat(1000), '__proto__'])
    assert.equal(await cancel(event, id), false);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  close();
});

test('a page that is not the app (other origin, subframe, unknown window) gets nothing', async () => {
  const { fake, event, close } = await started();
  const invoke = fake.handlers.get(CHANNELS.invoke)!;
  const strangers = [
    { ...event, senderFrame: { url: 'http://127.0.0.1:8080/', parent: null } },
    { ...event, senderFrame: { url: `${APP_ENTRY}`, parent: { url: APP_ENTRY } } },
    { ...event, senderFrame: { url: 'devtools://devtools/bundled/inspector.html', parent: null } },
    { ...event, senderFrame: { url: 'data:text/html,<script>', parent: null } },
    { ...event, sender: { id: -1 } },
    { sender: null, senderFrame: null },
  ];
  for (const s of strangers) {
    for (const method of ['studio.info', 'run.list', 'desktop.showInFolder']) {
      const reply = (await invoke(s, method, { path: '/' })) as Reply;
      assert.equal(reply.ok, false);
      assert.equal(reply.error!.code, 'forbidden', `${JSON.stringify(s)} ${method}`);
    }
  }
  assert.deepEqual(fake.calls, [], 'no folder was shown');
  close();
});

test('desktop.showInFolder reveals nothing outside the workspace, however the path is spelled', async () => {
  const { fake, event, base, workspaceDir, close } = await started();
  const invoke = fake.handlers.get(CHANNELS.invoke)!;
  mkdirSync(`${workspaceDir}-sibling`, { recursive: true });
  symlinkSync(base, join(workspaceDir, 'exports', 'link-out'));
  for (const path of [
    `${workspaceDir}/../`,
    `${workspaceDir}/exports/../../`,
    `${workspaceDir}/../../../etc`,
    `${workspaceDir}-sibling`,
    `${workspaceDir}/exports/link-out`,
    '/etc',
    'exports',
    '',
  ]) {
    const reply = (await invoke(event, 'desktop.showInFolder', { path })) as Reply;
    assert.equal(reply.ok, false, `${path} was shown`);
    assert.equal(reply.error!.code, 'forbidden');
  }
  assert.deepEqual(fake.calls, []);
  const ok = (await invoke(event, 'desktop.showInFolder', {
    path: join(workspaceDir, 'runs'),
  })) as Reply;
  assert.equal(ok.ok, true);
  close();
});
