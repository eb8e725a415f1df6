#!/usr/bin/env node
// The `retention` command: runs the TypeScript sources through tsx.
import { register as registerHooks } from 'node:module';
import { fileURLToPath, URL } from 'node:url';
import { register } from 'tsx/esm/api';

// The runtime tsconfig: `migrate` loads the services' TypeORM entities (legacy decorators).
register({ tsconfig: fileURLToPath(new URL('../../../tsconfig.runtime.json', import.meta.url)) });
// Workspace packages resolve to their sources (export condition "@retention/source"), never to a dist/ build.
registerHooks(
  'data:text/javascript,export async function resolve(s, c, next) { return next(s, { ...c, conditions: [...c.conditions, "@retention/source"] }); }',
);
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
