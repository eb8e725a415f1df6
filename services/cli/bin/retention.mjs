#!/usr/bin/env node
// The `retention` command: runs the TypeScript sources through tsx.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
// Workspace packages resolve to their sources (export condition "@retention/source"), never to a dist/ build.
registerHooks(
  'data:text/javascript,export async function resolve(s, c, next) { return next(s, { ...c, conditions: [...c.conditions, "@retention/source"] }); }',
);
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
