#!/usr/bin/env node
// The `retention-agent` command: runs the compiled agent (npm run build, or the published package).
await import('../dist/main.js');
