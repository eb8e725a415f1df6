import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { generateSigningKeyPair, isKeyId } from '@retention/contracts';
import { ApiError, type ApiClient, createApiClient } from './api-client';
import { registerApprovalCommands } from './approval-commands';
import { CsvUsageError, eraseCsv } from './erase-csv';
import { registerOperationsCommands } from './operations';
import { formatOutput } from './output';
import { progressLine } from './progress';
import { registerTargetCommands } from './target-commands';
import { ReceiptUsageError, verifyReceiptFile } from './verify-receipt';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  sleep: (ms: number) => Promise<void>;
  client?: ApiClient;
  /** Where the progress line of `--wait` goes (stderr), as raw text, and whether that is a terminal. */
  progress?: { write: (text: string) => void; tty: boolean };
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  env: process.env,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  progress: { write: (t) => process.stderr.write(t), tty: Boolean(process.stderr.isTTY) },
};

/** The coordinator the CLI talks to when RETENTION_API_URL is not set. */
const DEFAULT_API_URL = 'http://127.0.0.1:18080';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/**
 * `retention`: the operators' and auditors' command line over the coordinator API. Exit codes:
 * 0 done, 1 the API refused or failed (its message is printed), 2 bad usage, 3 `--wait` ended with
 * a request that is not complete, 4 `--wait` ended with an erasure held by a legal hold (it resumes
 * by itself when the hold ends).
 */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let exitCode = 0;
  const apiUrl = io.env.RETENTION_API_URL || DEFAULT_API_URL;
  const client = (): ApiClient => {
    if (io.client) return io.client;
    const token = io.env.RETENTION_API_TOKEN;
    if (!token) throw new UsageError("RETENTION_API_TOKEN is not set (a token from the coordinator's RETENTION_API_TOKENS)");
    return createApiClient(apiUrl, token);
  };

  /** Polls a request until it is done (or the timeout), with a progress line on stderr (progress.ts says when it is rewritten). */
  async function waitFor(path: string, timeoutSeconds: number): Promise<unknown> {
    const started = Date.now();
    const deadline = started + timeoutSeconds * 1000;
    const progress = progressLine(io.progress?.write ?? (() => undefined), io.progress?.tty ?? false);
    try {
      for (;;) {
        const request = (await client().call('GET', path)) as { id?: string; status: string; targets?: Array<{ status: string }> };
        if (['completed', 'failed', 'held', 'cancelled'].includes(request.status) || Date.now() > deadline) {
          if (request.status !== 'completed') exitCode = request.status === 'held' ? 4 : 3;
          return request;
        }
        const targets = request.targets ?? [];
        const done = targets.filter((t) => t.status !== 'pending' && t.status !== 'scheduled').length;
        const state = `${request.status} ${done}/${targets.length}`;
        progress.update(
          state,
          `waiting for ${request.id ?? path}: ${request.status}, ${done}/${targets.length} targets answered (${Math.round((Date.now() - started) / 1000)} s)`,
        );
        await io.sleep(1000);
      }
    } finally {
      progress.done();
    }
  }

  const program = new Command('retention')
    .description(
      'Erasure requests, sweeps, legal holds, webhook and manual targets (and their tasks) and the ledger, over the coordinator API.\nEnvironment: RETENTION_API_URL (default http://127.0.0.1:18080), RETENTION_API_TOKEN.',
    )
    .option('--json', "print the API's answers as JSON (for scripts) instead of tables")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  // Tables by default (output.ts), JSON with --json (before or after the command).
  const print = (to: CliIo, value: unknown): void => to.out(formatOutput(value, Boolean(program.opts<{ json?: boolean }>().json)));

  program
    .command('erase')
    .description('request the erasure of a subject from every service that stores it, or of every subject of a CSV file (--csv)')
    .argument('[type]', 'subject type, e.g. user')
    .argument('[id]', 'subject id')
    .option('--reason <text>', 'why (recorded in the ledger)')
    .option('--dry-run', 'count what would be erased, change nothing')
    .option('--idempotency-key <key>', 'retrying with the same key returns the same request')
    .option('--wait', 'wait until the request completes')
    .option('--timeout <seconds>', 'with --wait', positiveInt, 300)
    .option('--csv <file>', 'subjects from a CSV file (rows type,id; a header row type,id is skipped), sent in chunks; resumable')
    .option('--type <type>', 'with --csv: every row is one column, the id of a subject of this type')
    .option('--chunk-size <n>', 'with --csv: subjects per call (at most 10000)', positiveInt, 1000)
    .option('--state <file>', 'with --csv: progress file (default FILE.retention-state.json); a rerun resumes after its last acknowledged line')
    .option('--key <key>', "with --csv: the run's Idempotency-Key (default: a new one, kept in the state file)")
    .option('--not-before <instant>', 'send it no earlier than this (ISO 8601): until then it is scheduled and `retention cancel ID` cancels it')
    .action(
      async (
        type: string | undefined,
        id: string | undefined,
        o: {
          reason?: string;
          dryRun?: boolean;
          idempotencyKey?: string;
          wait?: boolean;
          timeout: number;
          csv?: string;
          type?: string;
          chunkSize: number;
          state?: string;
          key?: string;
          notBefore?: string;
        },
      ) => {
        if (o.csv) {
          if (type || id) throw new UsageError('--csv takes the subjects from the file: give no type or id');
          if (o.chunkSize > 10_000) throw new UsageError('--chunk-size is at most 10000 (the API bound per call)');
          const summary = await eraseCsv(
            client(),
            { file: o.csv, type: o.type, reason: o.reason, dryRun: Boolean(o.dryRun), chunkSize: o.chunkSize, stateFile: o.state, key: o.key, sleep: io.sleep },
            (line) => io.err(line),
          );
          if (summary.awaitingApproval.length > 0)
            io.err(`erase: ${summary.awaitingApproval.length} chunk(s) wait for a second admin: retention approvals list`);
          return print(io, summary);
        }
        if (!type || !id) throw new UsageError('give a subject (erase TYPE ID) or a file (erase --csv FILE)');
        const created = (await client().call('POST', '/v1/erasure-requests', {
          body: { subject: { type, id }, reason: o.reason, dryRun: Boolean(o.dryRun), notBefore: o.notBefore },
          headers: o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {},
        })) as { id: string };
        print(io, o.wait ? await waitFor(`/v1/erasure-requests/${created.id}`, o.timeout) : created);
      },
    );

  program
    .command('status')
    .description("show an erasure request or a sweep, with each target service's counts")
    .argument('<id>', 'request id')
    .option('--sweep', 'the id is a sweep')
    .option('--wait', 'wait until it completes')
    .option('--timeout <seconds>', 'with --wait', positiveInt, 300)
    .action(async (id: string, o: { sweep?: boolean; wait?: boolean; timeout: number }) => {
      const path = `/v1/${o.sweep ? 'sweeps' : 'erasure-requests'}/${id}`;
      print(io, o.wait ? await waitFor(path, o.timeout) : await client().call('GET', path));
    });

  program
    .command('list')
    .description('list erasure requests (or sweeps), newest first')
    .option('--sweeps', 'list sweeps')
    .option('--status <status>', 'scheduled, pending, completed, failed, held, overdue or cancelled')
    .option('--from <instant>', 'created at or after (ISO 8601)')
    .option('--to <instant>', 'created before (ISO 8601)')
    .option('--subject <type:id>', "one subject's requests")
    .option('--limit <n>', 'page size', positiveInt, 50)
    .option('--cursor <cursor>', 'next page')
    .action(async (o: { sweeps?: boolean; status?: string; from?: string; to?: string; subject?: string; limit: number; cursor?: string }) => {
      const q = new URLSearchParams({ limit: String(o.limit) });
      for (const k of ['status', 'from', 'to', 'cursor'] as const) if (o[k]) q.set(k, o[k]!);
      if (o.subject) {
        const i = o.subject.indexOf(':');
        if (i < 1) throw new UsageError('--subject must be type:id');
        if (o.sweeps) throw new UsageError('--subject lists erasure requests, not sweeps');
        // The id goes in the body: a URL ends up in proxies' and servers' access logs.
        const body = { ...Object.fromEntries(q), limit: o.limit, subject: { type: o.subject.slice(0, i), id: o.subject.slice(i + 1) } };
        return print(io, await client().call('POST', '/v1/erasure-requests/search', { body }));
      }
      print(io, await client().call('GET', `/v1/${o.sweeps ? 'sweeps' : 'erasure-requests'}?${q}`));
    });

  program
    .command('retry')
    .description('send a request again to the targets that acknowledged failed')
    .argument('<id>')
    .action(async (id: string) => print(io, await client().call('POST', `/v1/erasure-requests/${id}/retry`)));

  program
    .command('cancel')
    .description('cancel an erasure still in its grace period (scheduled): nothing is sent; the ledger records the cancel')
    .argument('<id>', 'erasure request id')
    .action(async (id: string) => print(io, await client().call('POST', `/v1/erasure-requests/${encodeURIComponent(id)}/cancel`)));

  program
    .command('replay')
    .description("after a service's database was restored from a backup: re-apply every erasure it completed since the backup's time (no raw id needed)")
    .requiredOption('--service <name>', 'the restored service')
    .requiredOption('--since <time>', "the backup's time, ISO 8601 with offset (e.g. 2026-12-01T00:00:00Z)")
    .action(async (o: { service: string; since: string }) =>
      print(io, await client().call('POST', `/v1/services/${encodeURIComponent(o.service)}/replay`, { body: { since: o.since } })),
    );

  program
    .command('sweep')
    .description('run retention sweeps now')
    .option('--service <name>')
    .option('--policy <name>')
    .option('--dry-run', 'count, change nothing')
    .option('--wait', 'wait until the sweep completes')
    .option('--timeout <seconds>', 'with --wait', positiveInt, 3600)
    .action(async (o: { service?: string; policy?: string; dryRun?: boolean; wait?: boolean; timeout: number }) => {
      const created = (await client().call('POST', '/v1/sweeps', { body: { service: o.service, policy: o.policy, dryRun: Boolean(o.dryRun) } })) as {
        id: string;
        status: string;
      };
      // A first real run under the sweep-first-run rule: nothing to wait for until another admin approves.
      if (created.status === 'awaiting_approval') io.err(`sweep: waits for a second admin: retention approvals approve ${created.id}`);
      print(io, o.wait && created.status !== 'awaiting_approval' ? await waitFor(`/v1/sweeps/${created.id}`, o.timeout) : created);
    });

  const holds = program.command('holds').description('legal holds');
  holds
    .command('list')
    .option('--active', 'only active holds')
    .action(async (o: { active?: boolean }) => print(io, await client().call('GET', `/v1/legal-holds${o.active ? '?active=true' : ''}`)));
  holds
    .command('place')
    .description('place a hold: --subject type:id, --policy name, or --service + --table + --record')
    .requiredOption('--reason <text>')
    .option('--subject <type:id>')
    .option('--policy <name>')
    .option('--service <name>')
    .option('--table <name>')
    .option('--record <key>')
    .option('--expires <instant>', 'ISO 8601')
    .action(async (o: { reason: string; subject?: string; policy?: string; service?: string; table?: string; record?: string; expires?: string }) => {
      let body: Record<string, unknown>;
      if (o.subject) {
        const i = o.subject.indexOf(':');
        if (i < 1) throw new UsageError('--subject must be type:id');
        body = { scope: 'subject', subject: { type: o.subject.slice(0, i), id: o.subject.slice(i + 1) }, service: o.service };
      } else if (o.record) body = { scope: 'record', service: o.service, table: o.table, recordKey: o.record };
      else if (o.policy) body = { scope: 'policy', policy: o.policy, service: o.service };
      else throw new UsageError('say what to hold: --subject, --policy, or --service --table --record');
      print(io, await client().call('POST', '/v1/legal-holds', { body: { ...body, reason: o.reason, expiresAt: o.expires } }));
    });
  holds
    .command('release')
    .argument('<id>')
    .action(async (id: string) => print(io, await client().call('DELETE', `/v1/legal-holds/${id}`)));

  program
    .command('policies')
    .description("every registered service's policies with legal basis, and whether each may run for real")
    .action(async () => print(io, await client().call('GET', '/v1/policies')))
    .command('enable')
    .description('let a policy run for real (new and changed policies run dry only until an admin enables them; check a dry run first)')
    .argument('<service>')
    .argument('<policy>')
    .action(async (service: string, policy: string) =>
      print(io, await client().call('POST', `/v1/services/${encodeURIComponent(service)}/policies/${encodeURIComponent(policy)}/enable`)),
    );

  program
    .command('report')
    .description("the auditor's completeness report for a window (default: the last 30 days)")
    .option('--from <instant>', 'created at or after (ISO 8601; default: 30 days before --to)')
    .option('--to <instant>', 'created before (ISO 8601; default: now)')
    .option('--csv', 'CSV instead of tables or JSON')
    .action(async (o: { from?: string; to?: string; csv?: boolean }) => {
      const q = new URLSearchParams({ format: o.csv ? 'csv' : 'json' });
      if (o.from) q.set('from', o.from);
      if (o.to) q.set('to', o.to);
      print(io, await client().call('GET', `/v1/ledger/report?${q}`));
    });

  const services = program.command('services').description('registered services and their lifecycle');
  services
    .command('list')
    .description('every service that registered: status, signing key, a registration waiting for approval')
    .action(async () => print(io, await client().call('GET', '/v1/services')));
  services
    .command('approve')
    .description("approve a service's waiting registration: it becomes a target and its signing key is pinned")
    .argument('<name>')
    .requiredOption('--public-key <key>', 'the public key you checked (shown as pending.publicKey by `services list`)')
    .action(async (name: string, o: { publicKey: string }) =>
      print(io, await client().call('POST', `/v1/services/${encodeURIComponent(name)}/approve`, { body: { publicKey: o.publicKey } })),
    );
  services
    .command('retire')
    .description('retire a service: no longer a target; its open targets are closed as retired')
    .argument('<name>')
    .requiredOption('--reason <text>', 'why (recorded in the ledger)')
    .action(async (name: string, o: { reason: string }) =>
      print(io, await client().call('DELETE', `/v1/services/${encodeURIComponent(name)}`, { body: { reason: o.reason } })),
    );

  program
    .command('keys')
    .description('signing keys (Ed25519) for the coordinator and the services')
    .command('generate')
    .description('print a new key pair as environment lines: the private key for the process that signs, the public key for those that check')
    .requiredOption('--id <keyId>', 'key id, e.g. coordinator-2026-12 or orders-1')
    .action((o: { id: string }) => {
      if (!isKeyId(o.id)) throw new UsageError('--id must be 1 to 64 letters, digits, dots, dashes or underscores');
      const { privateKey, publicKey } = generateSigningKeyPair();
      print(
        io,
        [
          '# Secret: for the process that signs (or put the key alone in a file and set RETENTION_SIGNING_KEY_FILE).',
          `RETENTION_SIGNING_KEY_ID=${o.id}`,
          `RETENTION_SIGNING_KEY=${privateKey}`,
          '# Public: for the processes that check its signatures (RETENTION_COORDINATOR_PUBLIC_KEYS, or service:… in RETENTION_SERVICE_PUBLIC_KEYS).',
          `${o.id}=${publicKey}`,
        ].join('\n'),
      );
    });

  program
    .command('verify')
    .description('check the ledger against its signed checkpoints (from the last one on; --full: every entry); exit 3 naming each problem if it was altered')
    .option('--full', 'recompute every entry and every checkpoint root, not only what came after the last checkpoint')
    .action(async (o: { full?: boolean }) => {
      const result = (await client().call('GET', `/v1/ledger/verify${o.full ? '?full=true' : ''}`)) as {
        ok: boolean;
        problems?: Array<{ kind: string; message: string }>;
      };
      if (!result.ok) {
        exitCode = 3;
        for (const p of result.problems ?? []) io.err(`ledger: ${p.kind}: ${p.message}`);
      }
      print(io, result);
    });

  program
    .command('receipt')
    .description('fetch the signed receipt of a completed erasure (JSON; save it and check it with verify-receipt)')
    .argument('<id>', 'erasure request id')
    .action(async (id: string) => print(io, await client().call('GET', `/v1/erasure-requests/${encodeURIComponent(id)}/receipt`)));

  program
    .command('verify-receipt')
    .description(
      "check an erasure receipt offline: its signature, its checkpoint's, each entry's hash and inclusion proof, and that its summary is what the entries say; exit 3 naming what failed",
    )
    .argument('<file>', 'the receipt (JSON), as GET /v1/erasure-requests/{id}/receipt returned it')
    .requiredOption('--public-key <key>', "the coordinator's public key (base64url), keyId=key, a comma-separated list, or a file holding them")
    .action((file: string, o: { publicKey: string }) => {
      const result = verifyReceiptFile(file, o.publicKey);
      if (!result.ok) {
        exitCode = 3;
        for (const p of result.problems) io.err(`receipt: ${p.code} at ${p.path}: ${p.message}`);
      }
      print(io, result);
    });

  registerApprovalCommands(program, client, (value) => print(io, value));

  // targets add webhook|manual, tasks, tasks confirm: systems that are not Kafka consumers.
  registerTargetCommands(program, {
    client,
    print: (value) => print(io, value),
    out: (text) => io.out(text),
    err: (text) => io.err(text),
    json: () => Boolean(program.opts<{ json?: boolean }>().json),
  });

  // topics apply, migrate: setup steps against Kafka and PostgreSQL, not the API.
  registerOperationsCommands(program, io, (code) => (exitCode = code));

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError || error instanceof ReceiptUsageError || error instanceof CsvUsageError) {
      io.err(`error: ${error.message}`);
      return 2;
    }
    if (error instanceof ApiError) {
      io.err(`error: ${error.message}`);
      return 1;
    }
    io.err(`error: cannot reach the coordinator at ${apiUrl} (${connectionFailure(error)}); set RETENTION_API_URL to its address`);
    return 1;
  }
}

class UsageError extends Error {}

/** Why a call did not reach the server: fetch's own message, and the network error under it (ECONNREFUSED, ENOTFOUND…). */
function connectionFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return detail ? `${error.message}: ${detail}` : error.message;
}
