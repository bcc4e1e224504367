// The first module of every job's utility process (bundled to dist/electron/utility-child.cjs):
// gives the job the fork-style process API, then loads the job's module through tsx.
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

import { bridgeParentPort, type ParentPortLike } from './utility-jobs.ts';

const port = (process as unknown as { parentPort: ParentPortLike }).parentPort;
bridgeParentPort(process, port);
register();
const target = process.argv[2];
if (target === undefined) {
  process.stderr.write('utility-child: no module to run\n');
  process.exit(2);
}
process.argv.splice(2, 1);
// A CommonJS bundle has no top-level await: the job module loads as a promise.
import(pathToFileURL(target).href).catch((err: unknown) => {
  process.stderr.write(`utility-child: could not load ${target}: ${String(err)}\n`);
  process.exit(1);
});
