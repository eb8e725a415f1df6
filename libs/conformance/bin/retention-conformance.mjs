#!/usr/bin/env node
// `retention-conformance`: the compiled kit (dist/, built by `npm run build` or the package's prepack).
const { main } = await import('../dist/main.js');
process.exitCode = await main(process.argv);
