#!/usr/bin/env node
// Second step of `npm run build`: Node's ESM loader needs full relative specifiers ('./topics.js'),
// the sources write them without extension ('./topics', resolved by tsx, vitest and TypeScript's
// `bundler` resolution) and tsc copies specifiers as they are. This rewrites the relative
// specifiers of every dist/**/*.js and *.d.ts to the file they name ('./x.js' or './x/index.js'),
// so the output runs under plain `node` and type-checks under `moduleResolution: nodenext`.
// Idempotent: a specifier that already names a file is left alone.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dists =
  process.argv.length > 2 ? process.argv.slice(2) : ['libs', 'services'].flatMap((d) => readdirSync(join(root, d)).map((p) => join(root, d, p, 'dist')));

// `from './x'`, `import './x'`, `import('./x')` (declarations use the last for inferred types).
const specifier = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.\.?\/[^'"]*)\2/g;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.(js|d\.ts)$/.test(name) ? [path] : [];
  });
}

const problems = [];

function fullSpecifier(file, spec) {
  if (/\.(m?js|json|cjs)$/.test(spec)) return spec;
  const base = resolve(dirname(file), spec);
  const js = file.endsWith('.d.ts') ? '.d.ts' : '.js';
  if (existsSync(base + js)) return `${spec}.js`;
  if (existsSync(join(base, `index${js}`))) return `${spec.replace(/\/$/, '')}/index.js`;
  // Left as it is (the file fails where it is imported); reported, and the exit code says so.
  problems.push(`${file}: cannot resolve '${spec}' in dist/ (is there a source file for it?)`);
  return spec;
}

let changed = 0;
for (const dist of dists.filter((d) => existsSync(d))) {
  for (const file of files(dist)) {
    const text = readFileSync(file, 'utf8');
    const out = text.replace(specifier, (_, lead, quote, spec) => `${lead}${quote}${fullSpecifier(file, spec)}${quote}`);
    if (out !== text) {
      writeFileSync(file, out);
      changed++;
    }
  }
}
console.log(`esm-specifiers: ${changed} file(s) rewritten`);
if (problems.length) {
  console.error(problems.join('\n'));
  process.exitCode = 1;
}
