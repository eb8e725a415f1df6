// The compiled `retention` command (the image runs it as `node services/cli/dist/bin.js`; from a
// checkout, bin/retention.mjs runs the sources through tsx).
import { main } from './main';

process.exitCode = await main(process.argv);
