#!/usr/bin/env node
// Electron security scan: runs electronegativity over the desktop layer's
// sources and the renderer page, prints every finding, and exits 1 when any is
// HIGH (the tool itself exits 0 whatever it finds, so its report is read here).
//
// The tool fetches translations and Electron release lists from the internet
// on every run; the studio is built offline, so its HTTP client is replaced by
// one that fails at once, the English texts shipped in the package are used,
// and the release-list check (which can only run online) is skipped.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('@doyensec/electronegativity/package.json'));
const fromPkg = createRequire(join(pkgDir, 'dist', 'index.js'));

const offline = () => Promise.reject(new Error('offline: no network requests from the scan'));
fromPkg.cache[fromPkg.resolve('got')] = {
  id: 'got',
  loaded: true,
  exports: { __esModule: true, default: offline },
};
process.env.LANG = 'en-US';
const run = fromPkg('./runner.js');

const targets = process.argv.slice(2);
const inputs = targets.length > 0 ? targets : [join(root, 'src-main', 'electron')];
const electronVersion = require(join(root, 'node_modules/electron/package.json')).version;
let high = 0;
for (const input of inputs) {
  const result = await run({
    input,
    output: undefined,
    isSarif: false,
    customScan: [],
    excludeFromScan: ['availablesecurityfixesglobalcheck'],
    severitySet: undefined,
    confidenceSet: undefined,
    isRelative: true,
    isVerbose: false,
    electronUpgrade: undefined,
    electronVersionOverride: electronVersion,
    parserPlugins: [],
  });
  for (const e of result.errors) console.error(`could not scan ${e.file}: ${e.message ?? e.error}`);
  for (const issue of result.issues) {
    const severity = issue.severity.name;
    if (severity === 'HIGH') high++;
    console.log(
      `${severity.padEnd(13)} ${issue.confidence.name.padEnd(9)} ${issue.id} ${issue.file}:${issue.location.line} ${issue.manualReview ? '(review)' : ''}`,
    );
  }
  console.log(
    `${input}: ${result.atomicChecks} checks, ${result.globalChecks} global checks, ${result.issues.length} findings`,
  );
}
if (high > 0) {
  console.error(`${high} HIGH finding(s): fix them before shipping.`);
  process.exit(1);
}
console.log('no HIGH findings');
