import { randomUUID } from 'node:crypto';
import {
  type ErasureReceipt,
  LEDGER_GENESIS_HASH,
  ledgerEntryHash,
  ledgerLeafHash,
  MerkleTree,
  type ReceiptEntry,
  type ReceiptTarget,
  signCheckpoint,
  signReceipt,
  type SigningKey,
} from '@retention/contracts';

interface Entry {
  seq: number;
  requestId: string | null;
  type: string;
  service: string | null;
  createdAt: string;
  body: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/**
 * A valid erasure receipt built the way the coordinator builds one, over a small in-memory ledger
 * (the request's entries among others'), signed with `key`: the fixture tampering tests start from.
 */
export function buildTestReceipt(key: SigningKey, options: { otherEntriesBefore?: number; otherEntriesAfter?: number } = {}): ErasureReceipt {
  const requestId = randomUUID();
  const subjectRef = 'ab'.repeat(32);
  const t = (s: number): string => new Date(Date.UTC(2026, 10, 2, 10, 0, s)).toISOString();
  const tables = {
    orders: [{ table: 'orders', policy: 'purchase_records', action: 'anonymize' as const, matched: 3, deleted: 0, anonymized: 3, archived: 0, held: 0 }],
    sessions: [{ table: 'sessions', action: 'delete' as const, matched: 2, deleted: 2, anonymized: 0, archived: 0, held: 0 }],
  };
  const ack = (service: 'orders' | 'sessions') => ({
    status: 'completed',
    dryRun: false,
    commandId: randomUUID(),
    startedAt: t(2),
    finishedAt: t(3),
    tables: tables[service],
    holdIds: [],
    reason: null,
    error: null,
    policyHash: `${service}-policy-hash`,
  });

  const entries: Entry[] = [];
  const add = (requestId_: string | null, type: string, service: string | null, createdAt: string, body: Record<string, unknown>): void => {
    const seq = entries.length + 1;
    const prevHash = entries[entries.length - 1]?.hash ?? LEDGER_GENESIS_HASH;
    const content = { seq, requestId: requestId_, type, service, createdAt, body };
    entries.push({ ...content, prevHash, hash: ledgerEntryHash(prevHash, content) });
  };
  const other = (n: number): void => {
    for (let i = 0; i < n; i++) add(randomUUID(), 'request.created', null, t(0), { kind: 'sweep', dryRun: false, targets: ['orders'] });
  };

  other(options.otherEntriesBefore ?? 5);
  add(requestId, 'request.created', null, t(1), {
    kind: 'erasure',
    dryRun: false,
    subjectType: 'user',
    subjectRef,
    targets: ['orders', 'sessions'],
    dueAt: t(59),
    requestedBy: 'requester',
  });
  add(requestId, 'command.sent', null, t(1), { commandId: randomUUID(), attempt: 1, targets: ['orders', 'sessions'] });
  other(2);
  add(requestId, 'ack.received', 'sessions', t(4), ack('sessions'));
  add(requestId, 'ack.received', 'orders', t(5), ack('orders'));
  add(requestId, 'request.completed', null, t(5), { targets: 2 });
  other(options.otherEntriesAfter ?? 4);

  const tree = new MerkleTree(Buffer.concat(entries.map((e) => ledgerLeafHash(e.hash))));
  const checkpoint = signCheckpoint(key, {
    treeSize: entries.length,
    rootHash: tree.root().toString('hex'),
    lastEntryHash: entries[entries.length - 1]!.hash,
    timestamp: t(30),
  });
  const mine: ReceiptEntry[] = entries
    .filter((e) => e.requestId === requestId)
    .map((e) => ({ ...e, auditPath: tree.inclusionProof(e.seq - 1).map((p) => p.toString('hex')) }));
  const target = (service: 'orders' | 'sessions', ackedAt: string): ReceiptTarget => ({
    service,
    status: 'completed',
    ackedAt,
    tables: tables[service],
    holdIds: [],
    policyHash: `${service}-policy-hash`,
  });
  // As it travels: plain JSON, no object shared between the summary and the entries.
  const receipt = signReceipt(key, {
    format: 'retention-erasure-receipt/1',
    request: { id: requestId, kind: 'erasure', dryRun: false, subjectType: 'user', subjectRef, createdAt: t(1), dueAt: t(59), completedAt: t(5) },
    targets: [target('orders', t(5)), target('sessions', t(4))],
    entries: mine,
    checkpoint,
    issuedAt: t(40),
  });
  return JSON.parse(JSON.stringify(receipt)) as ErasureReceipt;
}
