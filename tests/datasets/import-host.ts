/**
 * A minimal process hosting an import (workspace owner + import child), for
 * tests that kill it: `node --import tsx tests/datasets/import-host.ts WS NAME DIR`.
 * Prints the summary as JSON on stdout, and `committed N` on stderr after each batch.
 */
import { openWorkspace } from '../../src-main/catalog/workspace.ts';
import { runImport } from '../../src-main/datasets/importer.ts';
import { setConsoleLogging } from '../../src-main/log.ts';

const [wsDir, name, ...paths] = process.argv.slice(2);
setConsoleLogging(false);
const ws = openWorkspace(wsDir!);
try {
  const summary = await runImport(
    ws,
    { paths, labels: 'imagefolder', name: name! },
    (event) => {
      // Tells a test that a batch of decoded files is committed (it may kill the process then).
      if (event.type === 'import.progress' && event.phase === 'decode' && event.done > 0) {
        process.stderr.write(`committed ${event.done}\n`);
      }
    },
    new AbortController().signal,
  );
  process.stdout.write(JSON.stringify(summary) + '\n');
} finally {
  ws.close();
}
