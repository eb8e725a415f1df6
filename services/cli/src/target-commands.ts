import Table from 'cli-table3';
import { type Command, InvalidArgumentError } from 'commander';
import type { ApiClient } from './api-client';

/** What the target and task commands need of main: the client, how to print an answer, and whether `--json` was given. */
export interface TargetCommandsIo {
  client: () => ApiClient;
  print: (value: unknown) => void;
  out: (text: string) => void;
  err: (text: string) => void;
  json: () => boolean;
}

/** `--subject-types user,customer`: the subject types, at least one. */
function subjectTypes(value: string): string[] {
  const types = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (types.length === 0) throw new InvalidArgumentError('give at least one subject type, e.g. user or user,customer');
  return types;
}

/** A page size the API accepts (1–500, as every list). */
function pageSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidArgumentError('must be an integer from 1 to 500');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer ≥ 0');
  return n;
}

interface CreatedTarget {
  service: string;
  kind: string;
  secret?: string;
  [key: string]: unknown;
}

export interface Task {
  requestId: string;
  target: string;
  instructions: string;
  subjectType: string;
  subjectRef?: string;
  subjectId?: string;
  dueAt: string;
  createdAt?: string;
  overdue: boolean;
  status: string;
  confirmedBy?: string | null;
  confirmedAt?: string | null;
  outcome?: string | null;
}

/** An instant as `2026-12-31 09:00Z` (the --json answer has it whole). */
const minute = (iso: string | null | undefined): string => (iso ? `${iso.slice(0, 16).replace('T', ' ')}Z` : '');

/** Widest the instructions column gets before it wraps (they may be up to 2000 characters). */
const INSTRUCTIONS_WIDTH = 60;

/**
 * Manual tasks as a table for a person: one line per task, the instructions wrapped. Open tasks
 * show the subject id when the answer carries it (admin token), and OVERDUE past their due date;
 * done tasks who confirmed them, when and with what outcome.
 */
export function renderTasks(page: { items: Task[]; nextCursor?: string | null }, done: boolean): string {
  const { items } = page;
  if (items.length === 0) return done ? '(no confirmed manual tasks)' : '(no open manual tasks)';
  const withId = items.some((t) => typeof t.subjectId === 'string');
  const head = [
    'request',
    'target',
    'subject type',
    ...(withId ? ['subject id'] : []),
    'due',
    'overdue',
    ...(done ? ['status', 'outcome', 'confirmed by', 'confirmed at'] : []),
    'instructions',
  ];
  const colWidths: Array<number | null> = head.map((h) => (h === 'instructions' ? INSTRUCTIONS_WIDTH + 2 : null));
  const table = new Table({ head, colWidths, wordWrap: true, style: { head: [], border: [] } });
  for (const t of items) {
    table.push([
      t.requestId,
      t.target,
      t.subjectType,
      ...(withId ? [t.subjectId ?? ''] : []),
      minute(t.dueAt),
      t.overdue ? 'OVERDUE' : '',
      ...(done ? [t.status, t.outcome ?? '', t.confirmedBy ?? '', minute(t.confirmedAt)] : []),
      t.instructions,
    ]);
  }
  const more = typeof page.nextCursor === 'string' ? `\nmore: --cursor ${page.nextCursor}` : '';
  return `${table.toString()}${more}`;
}

/**
 * `retention targets add webhook|manual` (admin): systems that are not Kafka consumers, as erasure
 * targets; `retention tasks` (auditor, admin) and `retention tasks confirm` (admin): the manual
 * targets' open tasks and their confirmation. The contract: docs/api.md, "Targets that are not
 * Kafka consumers".
 */
export function registerTargetCommands(program: Command, io: TargetCommandsIo): void {
  const targets = program.command('targets').description('erasure targets that are not Kafka consumers: webhooks and manual tasks');
  const add = targets.command('add').description('register a webhook or a manual target (admin): a target of every later erasure of its subject types');

  add
    .command('webhook')
    .description('a system the coordinator calls over HTTPS (signed with a secret printed once, now) and that answers or calls back')
    .argument('<name>', 'target name (the service-name rules: lowercase letters, digits, dashes)')
    .requiredOption('--url <url>', 'where the erasure is POSTed (https)')
    .requiredOption('--subject-types <types>', 'subject types it stores, comma separated (e.g. user or user,customer)', subjectTypes)
    .action(async (name: string, o: { url: string; subjectTypes: string[] }) => {
      const created = (await io
        .client()
        .call('POST', '/v1/targets', { body: { name, kind: 'webhook', url: o.url, subjectTypes: o.subjectTypes } })) as CreatedTarget;
      if (io.json()) {
        io.print(created);
        if (created.secret) io.err(`targets: the "secret" above is shown only now: store it for ${created.service}'s receiver (it signs both directions)`);
        return;
      }
      const { secret, ...rest } = created;
      io.print(rest);
      if (secret) {
        io.out('');
        io.out(`Webhook secret of ${created.service}: SHOWN ONLY NOW, the coordinator never shows it again.`);
        io.out('Store it where the receiver checks the retention-signature header (and signs its callbacks):');
        io.out(secret);
      }
    });

  add
    .command('manual')
    .description('a system someone erases by hand: each erasure becomes an open task until an admin confirms it (retention tasks)')
    .argument('<name>', 'target name (the service-name rules: lowercase letters, digits, dashes)')
    .requiredOption('--instructions <text>', 'what to do, 3 to 2000 characters, no personal data (e.g. "Remove the folder from the paper archive in room 2")')
    .requiredOption('--subject-types <types>', 'subject types it holds, comma separated (e.g. user)', subjectTypes)
    .action(async (name: string, o: { instructions: string; subjectTypes: string[] }) =>
      io.print(await io.client().call('POST', '/v1/targets', { body: { name, kind: 'manual', instructions: o.instructions, subjectTypes: o.subjectTypes } })),
    );

  targets
    .command('rotate-secret')
    .description('a new signing secret for a webhook target (admin), printed once; the old one keeps working for --grace-seconds')
    .argument('<name>', 'the webhook target')
    .option('--grace-seconds <n>', 'how long the previous secret still signs and verifies (default 86400: a day)', nonNegativeInt, 86_400)
    .action(async (name: string, o: { graceSeconds: number }) => {
      const rotated = (await io.client().call('POST', `/v1/targets/${encodeURIComponent(name)}/rotate-secret`, { body: { graceSeconds: o.graceSeconds } })) as {
        service: string;
        secret: string;
        previousValidUntil: string;
      };
      if (io.json()) {
        io.print(rotated);
        io.err(`targets: the "secret" above is shown only now; the previous one works until ${rotated.previousValidUntil}`);
        return;
      }
      io.out(`New webhook secret of ${rotated.service}: SHOWN ONLY NOW. The previous one still signs and verifies until ${rotated.previousValidUntil}.`);
      io.out(rotated.secret);
    });

  const tasks = program
    .command('tasks')
    .description("manual targets' tasks, open ones by default (an admin token also shows each open task's subject id)")
    .option('--done', 'done (confirmed) tasks instead of open ones')
    .option('--limit <n>', 'page size (1-500)', pageSize, 50)
    .option('--cursor <cursor>', 'next page')
    .action(async (o: { done?: boolean; limit: number; cursor?: string }) => {
      const q = new URLSearchParams({ status: o.done ? 'done' : 'open', limit: String(o.limit) });
      if (o.cursor) q.set('cursor', o.cursor);
      const page = (await io.client().call('GET', `/v1/tasks?${q}`)) as { items: Task[]; nextCursor?: string | null };
      if (io.json()) return io.print(page);
      io.out(renderTasks(page, Boolean(o.done)));
    });

  tasks
    .command('confirm')
    .description(
      'confirm that a manual task was done (admin): the target completes; the ledger records who, the outcome, the count and the note by its keyed hash',
    )
    .argument('<requestId>', 'erasure request id (as `retention tasks` lists it)')
    .argument('<target>', 'the manual target')
    .requiredOption('--note <text>', 'what was done, 3 to 2000 characters (no personal data: kept with the target, hashed in the ledger)')
    .option('--not-applicable', 'nothing of this subject was there (outcome not_applicable instead of completed)')
    .option('--count <n>', 'how many records, folders or documents were erased', nonNegativeInt)
    .action(async (requestId: string, target: string, o: { note: string; notApplicable?: boolean; count?: number }) =>
      io.print(
        await io.client().call('POST', `/v1/erasure-requests/${encodeURIComponent(requestId)}/targets/${encodeURIComponent(target)}/confirm`, {
          body: { note: o.note, outcome: o.notApplicable ? 'not_applicable' : 'completed', ...(o.count !== undefined ? { count: o.count } : {}) },
        }),
      ),
    );
}
