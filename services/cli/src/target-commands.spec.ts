import { describe, expect, it } from 'vitest';
import { ApiError, type ApiClient } from './api-client';
import { main } from './main';

/** A strict fake: every call is recorded; an unexpected one fails the test. */
function fakeClient(
  responses: Array<{ method: string; path: string; reply: unknown }>,
): ApiClient & { calls: Array<{ method: string; path: string; body?: unknown; headers?: Record<string, string> }> } {
  const calls: Array<{ method: string; path: string; body?: unknown; headers?: Record<string, string> }> = [];
  return {
    calls,
    async call(method, path, options = {}) {
      calls.push({ method, path, ...options });
      const next = responses.shift();
      if (!next || next.method !== method || next.path !== path) throw new Error(`unexpected call ${method} ${path}`);
      if (next.reply instanceof ApiError) throw next.reply;
      return next.reply;
    },
  };
}

const run = async (argv: string[], client: ApiClient, env: NodeJS.ProcessEnv = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'retention', ...argv], { out: (t) => out.push(t), err: (t) => err.push(t), env, sleep: async () => {}, client });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

const SECRET = `whsec_${'a1'.repeat(16)}`;
const webhook = {
  service: 'billing-legacy',
  kind: 'webhook',
  status: 'active',
  subjectTypes: ['user', 'customer'],
  url: 'https://billing.example.com/retention',
  secret: SECRET,
};

const openTasks = {
  items: [
    {
      requestId: '0b7e0c1e-1111-4c4c-8888-000000000001',
      target: 'paper-archive',
      instructions: "Remove the person's folder from the paper archive in room 2, then shred the index card kept in the drawer beside it",
      subjectType: 'user',
      subjectRef: 'ab'.repeat(32),
      subjectId: 'jane@example.com',
      dueAt: '2026-11-30T10:00:00.000Z',
      createdAt: '2026-10-31T10:00:00.000Z',
      overdue: true,
      status: 'open',
      confirmedBy: null,
      confirmedAt: null,
      outcome: null,
    },
    {
      requestId: '0b7e0c1e-1111-4c4c-8888-000000000002',
      target: 'paper-archive',
      instructions: "Remove the person's folder from the paper archive in room 2",
      subjectType: 'user',
      subjectRef: 'cd'.repeat(32),
      subjectId: 'joe@example.com',
      dueAt: '2026-12-30T10:00:00.000Z',
      createdAt: '2026-11-30T10:00:00.000Z',
      overdue: false,
      status: 'open',
      confirmedBy: null,
      confirmedAt: null,
      outcome: null,
    },
  ],
  nextCursor: 'c2',
};

describe('retention targets add', () => {
  it('registers a webhook and prints its secret once, saying it is shown only now', async () => {
    const client = fakeClient([{ method: 'POST', path: '/v1/targets', reply: webhook }]);
    const result = await run(
      ['targets', 'add', 'webhook', 'billing-legacy', '--url', 'https://billing.example.com/retention', '--subject-types', 'user, customer'],
      client,
    );
    expect(result.code).toBe(0);
    expect(client.calls[0]!.body).toEqual({
      name: 'billing-legacy',
      kind: 'webhook',
      url: 'https://billing.example.com/retention',
      subjectTypes: ['user', 'customer'],
    });
    // Once: on its own line after the warning, not also in the table.
    expect(result.out.split(SECRET)).toHaveLength(2);
    expect(result.out.split('\n')).toContain(SECRET);
    expect(result.out).toMatch(/SHOWN ONLY NOW/);
    expect(result.out).toContain('billing-legacy');
    expect(result.out).toContain('https://billing.example.com/retention');
  });

  it('with --json prints the answer, secret included, and the warning on stderr', async () => {
    const client = fakeClient([{ method: 'POST', path: '/v1/targets', reply: webhook }]);
    const result = await run(
      ['--json', 'targets', 'add', 'webhook', 'billing-legacy', '--url', 'https://billing.example.com/retention', '--subject-types', 'user'],
      client,
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual(webhook);
    expect(result.err).toContain('shown only now');
  });

  it('rotates a webhook secret, printing the new one once and until when the old one still works', async () => {
    const client = fakeClient([
      {
        method: 'POST',
        path: '/v1/targets/billing-legacy/rotate-secret',
        reply: { service: 'billing-legacy', secret: SECRET, previousValidUntil: '2026-12-03T12:00:00.000Z' },
      },
    ]);
    const result = await run(['targets', 'rotate-secret', 'billing-legacy', '--grace-seconds', '3600'], client);
    expect(result.code).toBe(0);
    expect(client.calls[0]!.body).toEqual({ graceSeconds: 3600 });
    expect(result.out).toContain('SHOWN ONLY NOW');
    expect(result.out).toContain('2026-12-03T12:00:00.000Z');
    expect(result.out.split('\n')).toContain(SECRET);
    expect((await run(['targets', 'rotate-secret', 'billing-legacy', '--grace-seconds', '-1'], fakeClient([]))).code).toBe(2);
  });

  it('registers a manual target with its instructions', async () => {
    const reply = { service: 'paper-archive', kind: 'manual', status: 'active', subjectTypes: ['user'], instructions: 'Remove the folder in room 2' };
    const client = fakeClient([{ method: 'POST', path: '/v1/targets', reply }]);
    const result = await run(['targets', 'add', 'manual', 'paper-archive', '--instructions', 'Remove the folder in room 2', '--subject-types', 'user'], client);
    expect(result.code).toBe(0);
    expect(client.calls[0]!.body).toEqual({ name: 'paper-archive', kind: 'manual', instructions: 'Remove the folder in room 2', subjectTypes: ['user'] });
    expect(result.out).toContain('Remove the folder in room 2');
    expect(result.out).not.toMatch(/secret/i);
  });

  it('is a usage error (exit 2, no call) without --url, --instructions or a subject type', async () => {
    const client = fakeClient([]);
    expect((await run(['targets', 'add', 'webhook', 'b', '--subject-types', 'user'], client)).code).toBe(2);
    expect((await run(['targets', 'add', 'webhook', 'b', '--url', 'https://x.example', '--subject-types', ' , '], client)).code).toBe(2);
    expect((await run(['targets', 'add', 'manual', 'p', '--subject-types', 'user'], client)).code).toBe(2);
    expect((await run(['targets', 'add', 'ftp', 'p'], client)).code).toBe(2);
    expect(client.calls).toEqual([]);
  });

  it("prints the API's refusal (a name taken) and exits 1", async () => {
    const client = fakeClient([
      { method: 'POST', path: '/v1/targets', reply: new ApiError(409, { error: { code: 'conflict', message: 'the name "orders" is taken' } }) },
    ]);
    const result = await run(['targets', 'add', 'manual', 'orders', '--instructions', 'Shred it', '--subject-types', 'user'], client);
    expect(result.code).toBe(1);
    expect(result.err).toContain('409 conflict: the name "orders" is taken');
  });
});

describe('retention tasks', () => {
  it('lists open tasks as a table: request, target, subject type and id, due, OVERDUE, the whole instructions', async () => {
    const client = fakeClient([{ method: 'GET', path: '/v1/tasks?status=open&limit=50', reply: openTasks }]);
    const result = await run(['tasks'], client);
    expect(result.code).toBe(0);
    for (const text of ['request', 'target', 'subject id', 'due', 'instructions', openTasks.items[0]!.requestId, 'jane@example.com', '2026-11-30 10:00Z'])
      expect(result.out).toContain(text);
    expect(result.out.match(/OVERDUE/g)).toHaveLength(1);
    // Long instructions wrap inside their column rather than being cut.
    expect(result.out.replace(/[\s│|]+/g, ' ')).toContain('shred the index card');
    expect(result.out).toContain('more: --cursor c2');
  });

  it('leaves the subject id column out when the answer has none (auditor token), and says when there is nothing', async () => {
    const auditorPage = { items: openTasks.items.map(({ subjectId: _id, ...t }) => t), nextCursor: null };
    const client = fakeClient([
      { method: 'GET', path: '/v1/tasks?status=open&limit=50', reply: auditorPage },
      { method: 'GET', path: '/v1/tasks?status=open&limit=50', reply: { items: [], nextCursor: null } },
    ]);
    const listed = await run(['tasks'], client);
    expect(listed.out).not.toContain('subject id');
    expect(listed.out).not.toContain('more:');
    expect((await run(['tasks'], client)).out).toBe('(no open manual tasks)');
  });

  it('--done lists confirmed tasks with who confirmed them; --json prints the answer itself', async () => {
    const done = {
      items: [
        {
          ...openTasks.items[1]!,
          subjectId: undefined,
          status: 'done',
          outcome: 'completed',
          confirmedBy: 'admin:1a2b3c4d',
          confirmedAt: '2026-12-01T09:30:00.000Z',
        },
      ],
      nextCursor: null,
    };
    const client = fakeClient([
      { method: 'GET', path: '/v1/tasks?status=done&limit=10&cursor=c2', reply: done },
      { method: 'GET', path: '/v1/tasks?status=open&limit=50', reply: openTasks },
    ]);
    const listed = await run(['tasks', '--done', '--limit', '10', '--cursor', 'c2'], client);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('admin:1a2b3c4d');
    expect(listed.out).toContain('completed');
    const json = await run(['tasks', '--json'], client);
    expect(JSON.parse(json.out)).toEqual(openTasks);
  });

  it('confirms a task with the note in the body, ids escaped in the path', async () => {
    const view = {
      id: 'r1',
      status: 'completed',
      targets: [{ service: 'paper-archive', kind: 'manual', status: 'completed', attempts: 0, ackedAt: '2026-12-01T09:30:00.000Z', tables: [], holdIds: [] }],
    };
    const client = fakeClient([
      { method: 'POST', path: '/v1/erasure-requests/r1/targets/paper-archive/confirm', reply: view },
      { method: 'POST', path: '/v1/erasure-requests/r%2F2/targets/paper-archive/confirm', reply: view },
    ]);
    const result = await run(['tasks', 'confirm', 'r1', 'paper-archive', '--note', 'folder shredded, ticket 88', '--count', '3'], client);
    expect(result.code).toBe(0);
    expect(client.calls[0]!.body).toEqual({ note: 'folder shredded, ticket 88', outcome: 'completed', count: 3 });
    expect(result.out).toContain('manual');
    await run(['tasks', 'confirm', 'r/2', 'paper-archive', '--note', 'no folder in the archive', '--not-applicable', '--count', '0'], client);
    expect(client.calls[1]!.body).toEqual({ note: 'no folder in the archive', outcome: 'not_applicable', count: 0 });
  });

  it('is a usage error without --note or with a bad --count; a refusal (403, 409) is printed with exit 1', async () => {
    const client = fakeClient([
      {
        method: 'POST',
        path: '/v1/erasure-requests/r1/targets/paper-archive/confirm',
        reply: new ApiError(403, { error: { code: 'forbidden', message: 'role auditor may not call this route' } }),
      },
    ]);
    expect((await run(['tasks', 'confirm', 'r1', 'paper-archive'], client)).code).toBe(2);
    expect((await run(['tasks', 'confirm', 'r1', 'paper-archive', '--note', 'done', '--count', '-1'], client)).code).toBe(2);
    expect((await run(['tasks', 'confirm', 'r1', 'paper-archive', '--note', 'done', '--count', '2.5'], client)).code).toBe(2);
    expect((await run(['tasks', 'confirm', 'r1', '--note', 'done'], client)).code).toBe(2);
    expect(client.calls).toEqual([]);
    const refused = await run(['tasks', 'confirm', 'r1', 'paper-archive', '--note', 'done'], client);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('403 forbidden: role auditor may not call this route');
  });
});

describe("a request's targets in tables", () => {
  const target = (service: string, kind: string, extra: Record<string, unknown> = {}) => ({
    service,
    kind,
    status: 'pending',
    attempts: 1,
    lastSentAt: '2026-12-01T00:00:00.000Z',
    ackedAt: null,
    tables: [],
    holdIds: [],
    ...extra,
  });

  it("show the kind when a target is not a Kafka consumer, and a webhook's last error", async () => {
    const client = fakeClient([
      {
        method: 'GET',
        path: '/v1/erasure-requests/r1',
        reply: { id: 'r1', status: 'pending', targets: [target('orders', 'kafka'), target('billing-legacy', 'webhook', { lastError: 'http 503' })] },
      },
      { method: 'GET', path: '/v1/erasure-requests/r2', reply: { id: 'r2', status: 'pending', targets: [target('orders', 'kafka')] } },
    ]);
    const mixed = await run(['status', 'r1'], client);
    expect(mixed.out).toMatch(/kind/);
    expect(mixed.out).toContain('webhook');
    expect(mixed.out).toContain('lastError');
    expect(mixed.out).toContain('http 503');
    const kafkaOnly = await run(['status', 'r2'], client);
    expect(kafkaOnly.out).not.toMatch(/\bkind\b/);
    expect(kafkaOnly.out).not.toContain('lastError');
  });
});
