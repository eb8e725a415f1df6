import {
  type Ack,
  type Checkpoint,
  ConflictError,
  type ErasureReceipt,
  ledgerEntryHash,
  MerkleTree,
  NotFoundError,
  RECEIPT_FORMAT,
  type ReceiptTarget,
  signReceipt,
  type SigningKey,
} from '@retention/contracts';
import type { DataSource } from 'typeorm';
import type { CheckpointOutcome } from './checkpoint-publisher';
import { ledgerForRequest } from './ledger.repository';
import { LedgerGapError, leavesFromLedger } from './ledger-tree';

export interface ReceiptDeps {
  dataSource: DataSource;
  key: SigningKey;
  /** Trusted signed checkpoints, smallest first. */
  anchors: () => Promise<Checkpoint[]>;
  /** Publishes a checkpoint now (when none covers the request's entries yet). */
  checkpointNow: () => Promise<CheckpointOutcome>;
  now?: () => Date;
}

const RECEIPT_STATUSES: ReadonlyArray<ReceiptTarget['status']> = ['completed', 'not_applicable', 'held', 'retired'];

/**
 * The signed receipt of a completed erasure (`retention-erasure-receipt/1`, see libs/contracts
 * `receipt.ts`): the request, what each target reported, every ledger entry of the request with an
 * RFC 9162 inclusion proof to the latest signed checkpoint. When no checkpoint covers the
 * request's last entry yet, one is published first. The proofs are built from the ledger as it is
 * and checked against the signed root before anything is signed: a ledger that was altered gets a
 * 409, never a receipt.
 */
export async function buildErasureReceipt(deps: ReceiptDeps, requestId: string): Promise<ErasureReceipt> {
  const db = deps.dataSource;
  const [request] = (await db.query(
    `SELECT id, kind, status, dry_run, subject_type, subject_ref, created_at, due_at, completed_at FROM retention_requests WHERE id = $1`,
    [requestId],
  )) as Array<{
    id: string;
    kind: string;
    status: string;
    dry_run: boolean;
    subject_type: string | null;
    subject_ref: string | null;
    created_at: Date;
    due_at: Date;
    completed_at: Date | null;
  }>;
  if (!request || request.kind !== 'erasure') throw new NotFoundError(`no erasure request ${requestId}`);
  if (request.dry_run) throw new ConflictError('a dry run erased nothing: it has no receipt');
  if (request.status !== 'completed' || !request.completed_at || !request.subject_type || !request.subject_ref) {
    throw new ConflictError(`the erasure is ${request.status}, not completed: a receipt is issued once every target has finished`);
  }

  const targetRows = (await db.query(`SELECT service, status, acked_at, ack FROM request_targets WHERE request_id = $1 ORDER BY service`, [
    requestId,
  ])) as Array<{
    service: string;
    status: string;
    acked_at: Date | null;
    ack: Ack | null;
  }>;
  const targets = targetRows.map((t): ReceiptTarget => {
    if (!RECEIPT_STATUSES.includes(t.status as ReceiptTarget['status'])) throw new ConflictError(`target ${t.service} is ${t.status}`);
    return {
      service: t.service,
      status: t.status as ReceiptTarget['status'],
      ackedAt: t.acked_at ? new Date(t.acked_at).toISOString() : null,
      tables: t.ack?.tables ?? [],
      holdIds: t.ack?.holdIds ?? [],
      policyHash: t.ack?.policyHash ?? null,
    };
  });

  const entries = await ledgerForRequest(db, requestId);
  const last = entries.at(-1)?.seq ?? 0;
  for (const e of entries) {
    if (ledgerEntryHash(e.prevHash, e) !== e.hash) throw new ConflictError(`ledger entry ${e.seq} of this request was altered: see GET /v1/ledger/verify`);
  }
  const checkpoint = await coveringCheckpoint(deps, last);

  let leaves: Buffer;
  try {
    leaves = await leavesFromLedger(db, checkpoint.treeSize);
  } catch (error) {
    if (error instanceof LedgerGapError) throw new ConflictError(`${error.message}: the ledger was altered, see GET /v1/ledger/verify`);
    throw error;
  }
  const tree = new MerkleTree(leaves);
  if (tree.root().toString('hex') !== checkpoint.rootHash) {
    throw new ConflictError(`the ledger no longer has the root its checkpoint of ${checkpoint.treeSize} entries signed: see GET /v1/ledger/verify`);
  }

  return signReceipt(deps.key, {
    format: RECEIPT_FORMAT,
    request: {
      id: request.id,
      kind: 'erasure',
      dryRun: false,
      subjectType: request.subject_type,
      subjectRef: request.subject_ref,
      createdAt: new Date(request.created_at).toISOString(),
      dueAt: new Date(request.due_at).toISOString(),
      completedAt: new Date(request.completed_at).toISOString(),
    },
    targets,
    entries: entries.map((e) => ({
      seq: e.seq,
      requestId: e.requestId,
      type: e.type,
      service: e.service ?? null,
      createdAt: e.createdAt,
      body: e.body,
      prevHash: e.prevHash,
      hash: e.hash,
      auditPath: tree.inclusionProof(e.seq - 1).map((p) => p.toString('hex')),
    })),
    checkpoint,
    issuedAt: (deps.now ?? (() => new Date()))().toISOString(),
  });
}

/** The latest trusted checkpoint if it covers entry `seq`; otherwise a new one, published now. */
async function coveringCheckpoint(deps: ReceiptDeps, seq: number): Promise<Checkpoint> {
  const latest = (await deps.anchors()).at(-1);
  if (latest && latest.treeSize >= seq) return latest;
  const outcome = await deps.checkpointNow();
  if (outcome.outcome === 'refused') {
    throw new ConflictError(`no checkpoint covers this request yet, and none can be signed: ${outcome.message} (see GET /v1/ledger/verify)`);
  }
  if (!outcome.checkpoint || outcome.checkpoint.treeSize < seq) throw new ConflictError('no checkpoint covers this request yet: try again');
  return outcome.checkpoint;
}
