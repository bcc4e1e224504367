import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { startDesktop } from '../../src-main/electron/app.ts';
import { createBridge } from '../../src-main/electron/preload-bridge.ts';
import {
  APP_ENTRY,
  CHANNELS,
  DESKTOP_CSP,
  senderAllowed,
} from '../../src-main/electron/security.ts';
import { emitPreventable, fakeElectron, FakeWebContents } from './fake-electron.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'lejepa-desktop-'));

function rendererDir(): string {
  const dir = join(tmp(), 'renderer');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>studio</title>');
  return dir;
}

async function started(options: Parameters<typeof fakeElectron>[0] = {}) {
  const fake = fakeElectron(options);
  const workspaceDir = join(tmp(), 'ws');
  const desktop = startDesktop(fake.electron, {
    rendererDir: rendererDir(),
    preload: '/app/preload.cjs',
    workspaceDir,
  });
  await fake.ready();
  const win = fake.windows[0]!;
  const close = () => desktop.host?.close();
  return { fake, desktop, win, workspaceDir, close };
}

test('the window is sandboxed, isolated, without Node, and loads only the app page', async () => {
  const { win, close } = await started();
  const prefs = win.options.webPreferences;
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.nodeIntegrationInWorker, false);
  assert.equal(prefs.webSecurity, true);
  assert.equal(prefs.webviewTag, false);
  assert.equal(prefs.preload, '/app/preload.cjs');
  assert.equal(prefs.nodeIntegrationInSubFrames, false);
  assert.equal(prefs.allowRunningInsecureContent, false);
  assert.equal(prefs.experimentalFeatures, false);
  assert.equal(prefs.disableBlinkFeatures, 'Auxclick');
  assert.equal(win.loaded, APP_ENTRY);
  close();
});

test('the CSP allows no inline code, no eval and no remote content, on every response', async () => {
  for (const forbidden of ["'unsafe-inline'", "'unsafe-eval'", 'http:', 'https:', '*']) {
    assert.ok(!DESKTOP_CSP.includes(forbidden), `CSP contains ${forbidden}`);
  }
  assert.match(DESKTOP_CSP, /default-src 'none'/);
  assert.match(DESKTOP_CSP, /script-src 'self'/);
  assert.match(DESKTOP_CSP, /object-src 'none'/);
  const { fake, close } = await started();
  const headers = fake.headers({ 'Content-Security-Policy': ['script-src *'] });
  assert.deepEqual(headers['Content-Security-Policy'], [DESKTOP_CSP]);
  const page = await fake.protocol('app://studio/index.html');
  assert.equal(page.headers.get('content-security-policy'), DESKTOP_CSP);
  assert.equal(await fake.permission('media'), false);
  close();
});

test('navigation away from the app, new windows and webviews are denied', async () => {
  const { fake, win, close } = await started();
  const contents = win.webContents;
  assert.equal(emitPreventable(contents, 'will-navigate', 'https://evil.example/'), true);
  assert.equal(emitPreventable(contents, 'will-navigate', 'file:///etc/passwd'), true);
  assert.equal(emitPreventable(contents, 'will-navigate', 'app://other/index.html'), true);
  assert.equal(emitPreventable(contents, 'will-redirect', 'http://127.0.0.1:1/'), true);
  assert.equal(emitPreventable(contents, 'will-navigate', 'app://studio/index.html#/runs'), false);
  assert.equal(emitPreventable(contents, 'will-attach-webview'), true);
  assert.deepEqual(contents.openHandler!({ url: 'https://evil.example/' }), { action: 'deny' });
  // Any other web contents (a devtools page, a future window) gets the same rules.
  const other = new FakeWebContents();
  fake.app.emit('web-contents-created', {}, other);
  assert.equal(emitPreventable(other, 'will-navigate', 'https://evil.example/'), true);
  close();
});

test('IPC is answered only for the app page in the top frame of an app window', async () => {
  const { fake, win, close } = await started();
  const invoke = fake.handlers.get(CHANNELS.invoke)!;
  const good = {
    sender: { id: win.webContents.id },
    senderFrame: { url: APP_ENTRY, parent: null },
  };
  const ok = (await invoke(good, 'studio.info', {})) as { ok: boolean };
  assert.equal(ok.ok, true);
  const bad = [
    { ...good, senderFrame: { url: 'https://evil.example/', parent: null } },
    { ...good, senderFrame: { url: 'app://studio/index.html', parent: {} } },
    { ...good, senderFrame: { url: 'file:///tmp/x.html', parent: null } },
    { ...good, sender: { id: 9999 } },
    { ...good, senderFrame: null },
  ];
  for (const event of bad) {
    assert.equal(senderAllowed(event, new Set([win.webContents.id])), false);
    const reply = (await invoke(event, 'studio.info', {})) as {
      ok: boolean;
      error: { code: string };
    };
    assert.equal(reply.ok, false);
    assert.equal(reply.error.code, 'forbidden');
  }
  assert.equal(await fake.handlers.get(CHANNELS.cancel)!(bad[0], 'x'), false);
  close();
});

test('only the contract channels are reachable; other methods and paths get nothing', async () => {
  const { fake, win, workspaceDir, close } = await started();
  assert.deepEqual([...fake.handlers.keys()].sort(), [CHANNELS.cancel, CHANNELS.invoke].sort());
  const invoke = fake.handlers.get(CHANNELS.invoke)!;
  const event = {
    sender: { id: win.webContents.id },
    senderFrame: { url: APP_ENTRY, parent: null },
  };
  const unknown = (await invoke(event, 'fs.readFile', { path: '/etc/passwd' })) as {
    error: { code: string };
  };
  assert.equal(unknown.error.code, 'unknown_method');
  const outside = (await invoke(event, 'desktop.showInFolder', { path: '/etc' })) as {
    ok: boolean;
  };
  assert.equal(outside.ok, false);
  const inside = (await invoke(event, 'desktop.showInFolder', {
    path: join(workspaceDir, 'exports'),
  })) as {
    ok: boolean;
  };
  assert.equal(inside.ok, true);
  assert.deepEqual(fake.calls, [`show ${join(workspaceDir, 'exports')}`]);

  // The preload bridge exposes three functions, frozen, and always uses the contract channels.
  const used: string[] = [];
  const bridge = createBridge({
    invoke: async (channel) => {
      used.push(channel);
      return null;
    },
    on: (channel) => used.push(`on ${channel}`),
    removeListener: () => {},
  });
  assert.deepEqual(Object.keys(bridge).sort(), ['cancel', 'invoke', 'onEvent']);
  assert.ok(Object.isFrozen(bridge));
  await bridge.invoke('studio:cancel', {});
  await bridge.cancel('r1');
  bridge.onEvent(() => {});
  assert.deepEqual(used, [CHANNELS.invoke, CHANNELS.cancel, `on ${CHANNELS.event}`]);
  close();
});

test('the folder picker answers the app window with the chosen folder, or null when cancelled', async () => {
  for (const picked of ['/data/photos', null]) {
    const { fake, win, close } = await started({ pickedFolder: picked });
    const invoke = fake.handlers.get(CHANNELS.invoke)!;
    const event = {
      sender: { id: win.webContents.id },
      senderFrame: { url: APP_ENTRY, parent: null },
    };
    assert.deepEqual(await invoke(event, 'desktop.pickFolder', {}), { ok: true, result: picked });
    assert.deepEqual(fake.calls, ['pick openDirectory']);
    // A frame that is not the app's gets no dialog.
    const foreign = { ...event, senderFrame: { url: 'https://example.com/', parent: null } };
    assert.equal(((await invoke(foreign, 'desktop.pickFolder', {})) as { ok: boolean }).ok, false);
    assert.deepEqual(fake.calls, ['pick openDirectory']);
    close();
  }
});

test('api events reach the window on the event channel only', async () => {
  const { desktop, win, close } = await started();
  desktop.host!.emit({ type: 'run.status', runId: 3, status: 'running' });
  assert.deepEqual(win.webContents.sent, [
    { channel: CHANNELS.event, args: [{ type: 'run.status', runId: 3, status: 'running' }] },
  ]);
  close();
});

test('the app protocol serves the renderer and workspace thumbnails, nothing outside', async () => {
  const { fake, desktop, close } = await started();
  const ws = desktop.host!.ws;
  writeFileSync(ws.path('thumbs', 'a.webp'), 'thumb');
  const secret = join(tmp(), 'secret.txt');
  writeFileSync(secret, 'secret');
  symlinkSync(secret, ws.path('thumbs', 'link.webp'));
  assert.equal((await fake.protocol('app://studio/api/thumbs/a.webp')).status, 200);
  for (const url of [
    'app://studio/api/thumbs/link.webp',
    'app://studio/api/thumbs/%2e%2e/catalog.sqlite',
    'app://studio/api/thumbs/..%2fcatalog.sqlite',
    'app://studio/../../etc/passwd',
    'app://other/index.html',
  ]) {
    const res = await fake.protocol(url);
    assert.ok([400, 403, 404].includes(res.status), `${url} gave ${res.status}`);
  }
  close();
});

test('a second instance quits at once and focuses the first', async () => {
  const fake = fakeElectron({ gotLock: false });
  const desktop = startDesktop(fake.electron, { rendererDir: rendererDir(), preload: '/p.cjs' });
  assert.deepEqual(fake.calls, ['quit']);
  assert.equal(desktop.host, null);
});
