import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROLE_MATRIX } from '@retention/service-coordinator';
import { sessionsService } from '@retention/service-sessions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const execFileAsync = promisify(execFile);

/** Where scripts/lib.sh ensure_schemathesis installs it (pinned there: SCHEMATHESIS_VERSION). */
const SCHEMATHESIS =
  process.env.RETENTION_SCHEMATHESIS ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'retention/schemathesis-4.32.5/bin/st');

/** Test cases per operation and phase: enough to reach every declared status, small enough for a couple of minutes. */
const MAX_EXAMPLES = '12';

/**
 * A schema-driven fuzzer nobody here wrote (schemathesis, from PyPI) against the running
 * coordinator, from the OpenAPI document it serves: per role, every operation that role may call,
 * with generated valid and invalid paths, queries and bodies. No answer may be a server error,
 * and every status must be one the document declares for that operation.
 */
describe('the OpenAPI document declares what the server answers (schemathesis)', () => {
  let platform: Platform;
  let dir: string;

  beforeAll(async () => {
    if (!existsSync(SCHEMATHESIS)) {
      throw new Error(`schemathesis is not installed at ${SCHEMATHESIS}: run \`source scripts/lib.sh && ensure_schemathesis\` (npm test does)`);
    }
    dir = await mkdtemp(join(tmpdir(), 'retention-fuzz-'));
    platform = await startPlatform([sessionsService]);
  });

  afterAll(async () => {
    await platform?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('declares path id formats, a 400 on every operation and the cross-field rules of a hold', async () => {
    const { body: doc } = await platform.api('GET', '/v1/openapi.json', { token: TOKENS.auditor });
    const paths = doc.paths as Record<
      string,
      Record<string, { parameters: Array<{ name: string; in: string; schema: { format?: string } }>; responses: object; requestBody?: any }>
    >;
    for (const [path, operations] of Object.entries(paths)) {
      for (const operation of Object.values(operations)) {
        expect(Object.keys(operation.responses), path).toContain('400');
        for (const p of operation.parameters.filter((x) => x.in === 'path' && x.name === 'id')) expect(p.schema.format, path).toBe('uuid');
      }
    }
    const hold = paths['/v1/legal-holds']!.post!.requestBody.content['application/json'].schema;
    expect(hold.oneOf).toEqual(expect.arrayContaining([{ properties: { scope: { const: 'policy' } }, required: ['policy'] }]));
    expect(Object.keys(paths['/v1/erasure-requests/{id}/cancel']!.post!.responses)).toEqual(expect.arrayContaining(['200', '403', '404', '409']));
  });

  for (const role of ['requester', 'auditor', 'admin'] as const) {
    it(`as ${role}: no server error, no undeclared status`, async () => {
      const { body: document } = await platform.api('GET', '/v1/openapi.json', { token: TOKENS[role] });
      // Only what this role may call (the others answer 403, which says nothing about them).
      const paths: Record<string, Record<string, unknown>> = {};
      for (const [path, operations] of Object.entries(document.paths as Record<string, Record<string, unknown>>)) {
        for (const [method, operation] of Object.entries(operations)) {
          const roles = (ROLE_MATRIX as Record<string, readonly string[]>)[`${method.toUpperCase()} ${path}`];
          if (roles?.includes(role)) (paths[path] ??= {})[method] = operation;
        }
      }
      expect(Object.keys(paths).length).toBeGreaterThan(2);
      const file = join(dir, `${role}.json`);
      await writeFile(file, JSON.stringify({ ...document, paths }));
      const run = await execFileAsync(
        SCHEMATHESIS,
        [
          'run',
          file,
          '--url',
          platform.coordinator.url,
          '--header',
          `Authorization: Bearer ${TOKENS[role]}`,
          '--checks',
          'not_a_server_error,status_code_conformance',
          '--phases',
          'coverage,fuzzing',
          '--max-examples',
          MAX_EXAMPLES,
          '--seed',
          '20261202',
          // One worker: the CPython 3.11 here fails ast.parse from two threads at once ("AST constructor
          // recursion depth mismatch" inside hypothesis), an error of the tool, not of the API.
          '--workers',
          '1',
          '--no-color',
        ],
        // In the temporary directory: schemathesis keeps its cache (.schemathesis/) in its working directory.
        { cwd: dir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false' } },
      ).then(
        (r) => ({ code: 0, output: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, output: `${e.stdout}${e.stderr}` }),
      );
      // The whole report on failure: each failing case with its request and the answer.
      expect(run.code, run.output).toBe(0);
      const cases = /(\d+) generated, (\d+) passed/.exec(run.output);
      expect(cases, run.output).not.toBeNull();
      process.stdout.write(`schemathesis as ${role}: ${Object.keys(paths).length} operations, ${cases![1]} test cases, ${cases![2]} passed\n`);
    });
  }
});
