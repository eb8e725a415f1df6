import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Ack, TopicNames } from '@retention/contracts';
import type { Logger } from '@retention/observability';
import type { DataSource, EntityManager } from 'typeorm';
import type { AckResult } from '../acks/ack-received.handler';
import { activeSubjectHolds } from '../holds/legal-holds.service';
import { appendLedger, type LedgerEntryInput } from '../ledger/ledger.repository';
import { nextDelaySeconds } from '../maintenance/redelivery';
import type { SubjectVault } from '../privacy/subject-vault';
import { unstorableTextIssues } from '../http/storable-text';
import { ExternalAnswer } from './external-answer';
import { externalAck, type ExternalResult, heldAnswerProblem, newCommandId, webhookTarget } from './external-targets';
import { SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS, signatureHeader } from './webhook-signature';

export interface DeliverExternalDeps {
  dataSource: DataSource;
  vault: SubjectVault;
  /** Reconciles a result as an ack, in the caller's transaction (ack-received.handler.ts `within`). */
  applyAck: (manager: EntityManager, ack: Ack, before?: LedgerEntryInput[]) => Promise<AckResult>;
  /** Where the targets' callbacks go: `<publicUrl>/v1/targets/<name>/callback`. */
  publicUrl: () => string;
  timeoutMs: number;
  /** An accepted delivery whose result has not come back is sent again after this. */
  resendMs: number;
  retry: { baseSeconds: number; maxSeconds: number; maxAttempts: number };
  /** Extra CA certificates (PEM) beside the system's, for endpoints behind a company CA. */
  ca?: string;
  logger: Logger;
  topics?: TopicNames;
}

interface DueTarget {
  request_id: string;
  service: string;
  attempts: number;
  target_kind: 'webhook' | 'manual';
  subject_ref: string | null;
  subject_type: string | null;
  subject_id: string | null;
  dry_run: boolean;
  due_at: Date;
}

/** What one delivery did, for the leader's log line. */
export interface DeliveryTally {
  delivered: number;
  answered: number;
  failed: number;
  held: number;
  tasksOpened: number;
  /** Holds placed after a webhook accepted an erasure, notified to it. */
  holdNotices?: number;
}

/** How long past its time box a claimed delivery waits before another tick may take it again. */
const CLAIM_MARGIN_MS = 60_000;
/** A subject hold in force for target `t` of request `r` (SQL; `$1` = now). */
const HOLD_IN_FORCE = `r.subject_ref IS NOT NULL AND EXISTS (SELECT 1 FROM legal_holds l WHERE l.scope = 'subject' AND l.subject_ref = r.subject_ref
  AND l.released_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $1) AND (l.service IS NULL OR l.service = t.service))`;
/** Targets claimed per round, rounds per tick at most, and the time after which no new round starts. */
const BATCH = 100;
const MAX_ROUNDS = 20;
const ROUND_BUDGET_MS = 20_000;
/** Webhook deliveries running at once at most (each may take up to the timeout). */
const PARALLEL = 8;
/** A webhook's answer is read up to this size; a longer body is not a result. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * The leader's delivery of erasures to targets that are not Kafka consumers, for every pending
 * target whose next attempt is due:
 * - a subject hold in force for the target: nothing is sent, the target is `held` naming the holds
 *   (it resumes when they end, as a Kafka target does);
 * - a manual target: its task is opened (it waits for an operator's confirmation; a dry run has no
 *   task and is `not_applicable`);
 * - a webhook: a signed POST. A 2xx with a result in its body is that result; another 2xx means
 *   accepted (the result comes by callback; sent again after `resendMs` if it does not); anything
 *   else is retried with the same backoff as Kafka redelivery, the reason kept as `lastError`.
 * The HTTP call runs outside any transaction; what it changed is written after, only if the target
 * is still pending then.
 */
export async function deliverExternalTargets(deps: DeliverExternalDeps, now: Date): Promise<DeliveryTally> {
  const tally: DeliveryTally = { delivered: 0, answered: 0, failed: 0, held: 0, tasksOpened: 0 };
  // Open tasks whose subject a hold now covers: held at once (an operator must not act on them).
  const nowHeld = (await deps.dataSource.query(
    `SELECT t.request_id, t.service, t.attempts, s.target_kind, r.subject_ref, r.subject_type, r.subject_id, r.dry_run, r.due_at
     FROM request_targets t JOIN registered_services s ON s.service = t.service AND s.target_kind = 'manual'
     JOIN retention_requests r ON r.id = t.request_id
     WHERE t.status = 'pending' AND r.status = 'pending' AND t.next_attempt_at IS NULL AND ${HOLD_IN_FORCE}
     LIMIT 100`,
    [now],
  )) as DueTarget[];
  for (const t of nowHeld) {
    const holds = (await activeSubjectHolds(deps.dataSource.manager, t.subject_ref!)).filter((h) => !h.service || h.service === t.service);
    if (holds.length === 0) continue;
    const held = await answer(
      deps,
      t,
      { status: 'held', holdIds: holds.map((h) => h.holdId), reason: 'a legal hold on the subject is in force for this target' },
      newCommandId('manual'),
    );
    if (held) tally.held++;
  }
  // Callback signatures older than twice their tolerance cannot be replayed any more (refused as expired).
  await deps.dataSource.query(`DELETE FROM webhook_callbacks_seen WHERE seen_at < $1`, [new Date(now.getTime() - 2 * SIGNATURE_TOLERANCE_SECONDS * 1000)]);
  await notifyHolds(deps, now, tally).catch((error: unknown) =>
    deps.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'webhook hold notices failed'),
  );
  // Rounds of up to BATCH targets while a round comes back full, within ROUND_BUDGET_MS: a backlog
  // (a bulk erasure) drains at the receivers' pace, and the tick still ends for the other steps.
  const started = Date.now();
  for (let round = 0; round < MAX_ROUNDS && Date.now() - started < ROUND_BUDGET_MS; round++) {
    // Claimed first (their next attempt pushed past this delivery's time box): a second tick running
    // beside this one, or a new leader, does not deliver the same target again meanwhile.
    const claimUntil = new Date(Date.now() + deps.timeoutMs + CLAIM_MARGIN_MS);
    const due = (await deps.dataSource.query(
      `WITH due AS (
         SELECT t.request_id, t.service FROM request_targets t
         JOIN registered_services s ON s.service = t.service AND s.target_kind <> 'kafka'
         JOIN retention_requests r ON r.id = t.request_id
         WHERE t.status = 'pending' AND r.status = 'pending' AND r.kind = 'erasure' AND t.next_attempt_at <= $1
         ORDER BY t.next_attempt_at LIMIT $3 FOR UPDATE OF t SKIP LOCKED),
       claimed AS (
         UPDATE request_targets x SET next_attempt_at = $2 FROM due WHERE x.request_id = due.request_id AND x.service = due.service
         RETURNING x.request_id, x.service, x.attempts)
       SELECT c.request_id, c.service, c.attempts, s.target_kind, r.subject_ref, r.subject_type, r.subject_id, r.dry_run, r.due_at
       FROM claimed c JOIN registered_services s ON s.service = c.service JOIN retention_requests r ON r.id = c.request_id`,
      [now, claimUntil, BATCH],
    )) as DueTarget[];
    const queue = [...due];
    const worker = async (): Promise<void> => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        try {
          await deliverOne(deps, t, now, tally, claimUntil);
        } catch (error) {
          tally.failed++;
          deps.logger.error(
            { target: t.service, requestId: t.request_id, err: error instanceof Error ? error.message : String(error) },
            'external delivery failed',
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
    if (due.length < BATCH) break;
  }
  return tally;
}

async function deliverOne(deps: DeliverExternalDeps, t: DueTarget, now: Date, tally: DeliveryTally, claimUntil: Date): Promise<void> {
  const holds = t.subject_ref ? (await activeSubjectHolds(deps.dataSource.manager, t.subject_ref)).filter((h) => !h.service || h.service === t.service) : [];
  if (holds.length > 0) {
    const applied = await answer(
      deps,
      t,
      { status: 'held', holdIds: holds.map((h) => h.holdId), reason: 'a legal hold on the subject is in force for this target' },
      newCommandId(t.target_kind),
    );
    if (applied) tally.held++;
    return;
  }
  if (t.target_kind === 'manual') {
    if (t.dry_run) {
      await answer(deps, t, { status: 'not_applicable', reason: 'a manual task has no dry run' }, newCommandId('manual'));
      return;
    }
    // Open: it waits for an operator (next_attempt_at NULL); the ledger says when it was opened.
    await deps.dataSource.transaction(async (manager) => {
      const [row] = (await manager.query(
        `UPDATE request_targets SET attempts = attempts + 1, last_sent_at = $3, next_attempt_at = NULL
         WHERE request_id = $1 AND service = $2 AND status = 'pending' AND next_attempt_at = $4
         RETURNING attempts`,
        [t.request_id, t.service, now, claimUntil],
      )) as [Array<{ attempts: number }>, number][0];
      if (!row) return;
      await appendLedger(
        manager,
        [
          {
            requestId: t.request_id,
            type: 'command.sent',
            body: { commandId: newCommandId('manual'), attempt: row.attempts, targets: [t.service], via: 'manual_task' },
          },
        ],
        now,
      );
      tally.tasksOpened++;
    });
    return;
  }

  const webhook = await webhookTarget(deps.dataSource.manager, t.service, deps.vault, new Date());
  const subjectId = deps.vault.open('request', t.request_id, t.subject_id);
  // Its subject forgotten meanwhile (age limit): nothing can be delivered; privacy maintenance fails it.
  if (!webhook || !subjectId || !t.subject_type) return;
  const deliveryId = randomUUID();
  const attempt = t.attempts + 1;
  const body = JSON.stringify({
    type: 'erasure.requested',
    deliveryId,
    requestId: t.request_id,
    target: t.service,
    subject: { type: t.subject_type, id: subjectId },
    dryRun: t.dry_run,
    dueAt: new Date(t.due_at).toISOString(),
    attempt,
    callbackUrl: `${deps.publicUrl().replace(/\/+$/, '')}/v1/targets/${t.service}/callback`,
  });
  const response = await post(
    webhook.url,
    body,
    // Signed as it leaves (not at the tick's start): a receiver checks the time against its own clock.
    { [SIGNATURE_HEADER]: signatureHeader(webhook.secrets, body, new Date()), 'retention-delivery': deliveryId },
    { timeoutMs: deps.timeoutMs, ca: deps.ca },
  );
  const commandId = `webhook:${deliveryId}`;
  if (response.ok) {
    // A result in the answer: the same fields as a callback (its requestId may be left out).
    const result =
      response.json === undefined || unstorableTextIssues(response.json).length > 0
        ? undefined
        : ExternalAnswer.partial({ requestId: true }).safeParse(response.json);
    // A held answer counts only when it names holds in force for this target (else: accepted, no result).
    const heldProblem =
      result?.success && result.data.status === 'held'
        ? await heldAnswerProblem(deps.dataSource.manager, t.request_id, t.service, result.data.holdIds, new Date())
        : null;
    if (result?.success && !heldProblem && (result.data.requestId ?? t.request_id) === t.request_id) {
      const applied = await answer(deps, t, result.data as ExternalResult, commandId, {
        attempt,
        outcome: 'answered',
        httpStatus: response.status ?? 200,
      });
      if (applied) tally.answered++;
      return;
    }
  }
  const exhausted = !response.ok && attempt >= deps.retry.maxAttempts;
  const next = response.ok
    ? new Date(now.getTime() + deps.resendMs)
    : exhausted
      ? null
      : new Date(now.getTime() + nextDelaySeconds(attempt, deps.retry) * 1000);
  await deps.dataSource.transaction(async (manager) => {
    const [row] = (await manager.query(
      `UPDATE request_targets SET attempts = attempts + 1, last_sent_at = $3, next_attempt_at = $4, last_error = $5,
         delivered_at = CASE WHEN $6 THEN $3 ELSE delivered_at END
       WHERE request_id = $1 AND service = $2 AND status = 'pending' AND next_attempt_at = $7 RETURNING 1 AS ok`,
      [t.request_id, t.service, now, next, response.ok ? null : response.error, response.ok, claimUntil],
    )) as [Array<{ ok: number }>, number][0];
    if (!row) return;
    await appendLedger(
      manager,
      [
        {
          requestId: t.request_id,
          type: 'command.sent',
          body: {
            commandId,
            attempt,
            targets: [t.service],
            via: 'webhook',
            outcome: response.ok ? 'accepted' : 'failed',
            ...(response.status ? { httpStatus: response.status } : {}),
            ...(response.ok ? {} : { error: response.error }),
          },
        },
      ],
      now,
    );
  });
  if (response.ok) tally.delivered++;
  else {
    tally.failed++;
    deps.logger.warn(
      { target: t.service, requestId: t.request_id, attempt, error: response.error, retryAt: next?.toISOString() ?? null },
      'webhook delivery failed',
    );
  }
}

/**
 * A hold placed after a webhook accepted an erasure (it may not have erased yet): the webhook is told
 * once per hold, by a signed `erasure.hold_placed` POST, so that it can keep the data and answer
 * `held` naming the holds (the target then resumes when they end). A failed notice is retried with
 * the delivery backoff until a 2xx. Nothing changes the target here: its answer decides.
 */
async function notifyHolds(deps: DeliverExternalDeps, now: Date, tally: DeliveryTally): Promise<void> {
  const due = (await deps.dataSource.query(
    `SELECT t.request_id, t.service, array_agg(l.id::text ORDER BY l.id::text) AS hold_ids, max(COALESCE(n.attempts, 0))::int AS attempts
     FROM request_targets t JOIN registered_services s ON s.service = t.service AND s.target_kind = 'webhook' AND s.status = 'active'
     JOIN retention_requests r ON r.id = t.request_id
     JOIN legal_holds l ON l.scope = 'subject' AND l.subject_ref = r.subject_ref AND l.released_at IS NULL
       AND (l.expires_at IS NULL OR l.expires_at > $1) AND (l.service IS NULL OR l.service = t.service)
     LEFT JOIN webhook_hold_notices n ON n.request_id = t.request_id AND n.service = t.service AND n.hold_id = l.id::text
     WHERE t.status = 'pending' AND r.status = 'pending' AND NOT r.dry_run AND t.delivered_at IS NOT NULL
       AND (n.request_id IS NULL OR (n.sent_at IS NULL AND n.next_attempt_at <= $1))
     GROUP BY t.request_id, t.service LIMIT 100`,
    [now],
  )) as Array<{ request_id: string; service: string; hold_ids: string[]; attempts: number }>;
  const started = Date.now();
  // A webhook that failed a notice in this tick is not called again in it (a dead endpoint must not hold the tick).
  const failing = new Set<string>();
  for (const d of due) {
    if (failing.has(d.service) || Date.now() - started > ROUND_BUDGET_MS) continue;
    try {
      const outcome = await notifyOne(deps, d, now);
      if (outcome === 'failed') failing.add(d.service);
      else if (outcome === 'sent') tally.holdNotices = (tally.holdNotices ?? 0) + 1;
    } catch (error) {
      failing.add(d.service);
      deps.logger.error(
        { target: d.service, requestId: d.request_id, err: error instanceof Error ? error.message : String(error) },
        'webhook hold notice failed',
      );
    }
  }
}

/** Sends one hold notice: `failed` when the webhook did not accept it (retried later), `skipped` when another tick has it or the target is gone. */
async function notifyOne(
  deps: DeliverExternalDeps,
  d: { request_id: string; service: string; hold_ids: string[]; attempts: number },
  now: Date,
): Promise<'sent' | 'skipped' | 'failed'> {
  {
    const attempt = d.attempts + 1;
    // Claimed first (the next attempt set), so an overlapping tick does not send it too.
    const claimed = (await deps.dataSource.query(
      `INSERT INTO webhook_hold_notices (request_id, service, hold_id, attempts, next_attempt_at)
       SELECT $1, $2, unnest($3::text[]), $4, $5
       ON CONFLICT (request_id, service, hold_id) DO UPDATE SET attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at
         WHERE webhook_hold_notices.sent_at IS NULL AND webhook_hold_notices.next_attempt_at <= $6
       RETURNING hold_id`,
      [d.request_id, d.service, d.hold_ids, attempt, new Date(now.getTime() + nextDelaySeconds(attempt, deps.retry) * 1000), now],
    )) as Array<{ hold_id: string }>;
    if (claimed.length === 0) return 'skipped';
    const holdIds = claimed.map((c) => c.hold_id).sort();
    const webhook = await webhookTarget(deps.dataSource.manager, d.service, deps.vault, new Date());
    if (!webhook) return 'skipped';
    const deliveryId = randomUUID();
    const body = JSON.stringify({
      type: 'erasure.hold_placed',
      deliveryId,
      requestId: d.request_id,
      target: d.service,
      holdIds,
      callbackUrl: `${deps.publicUrl().replace(/\/+$/, '')}/v1/targets/${d.service}/callback`,
    });
    const response = await post(
      webhook.url,
      body,
      { [SIGNATURE_HEADER]: signatureHeader(webhook.secrets, body, new Date()), 'retention-delivery': deliveryId },
      { timeoutMs: deps.timeoutMs, ...(deps.ca ? { ca: deps.ca } : {}) },
    );
    await deps.dataSource.transaction(async (manager) => {
      if (response.ok) {
        await manager.query(`UPDATE webhook_hold_notices SET sent_at = $4 WHERE request_id = $1 AND service = $2 AND hold_id = ANY($3::text[])`, [
          d.request_id,
          d.service,
          holdIds,
          now,
        ]);
      }
      await appendLedger(
        manager,
        [
          {
            requestId: d.request_id,
            type: 'command.sent',
            body: {
              commandId: `webhook:${deliveryId}`,
              attempt,
              targets: [d.service],
              via: 'webhook',
              notice: 'hold_placed',
              holdIds,
              outcome: response.ok ? 'accepted' : 'failed',
              ...(response.status ? { httpStatus: response.status } : {}),
              ...(response.ok ? {} : { error: response.error }),
            },
          },
        ],
        now,
      );
    });
    return response.ok ? 'sent' : 'failed';
  }
}

/** Applies a result to a target as its ack; false when the target had moved on meanwhile. */
async function answer(
  deps: DeliverExternalDeps,
  t: DueTarget,
  result: ExternalResult,
  commandId: string,
  sent?: { attempt: number; outcome: 'answered'; httpStatus: number },
): Promise<boolean> {
  return deps.dataSource.transaction(async (manager) => {
    const at = new Date();
    const before: LedgerEntryInput[] = sent
      ? [
          {
            requestId: t.request_id,
            type: 'command.sent',
            body: { commandId, attempt: sent.attempt, targets: [t.service], via: 'webhook', outcome: sent.outcome, httpStatus: sent.httpStatus },
          },
        ]
      : [];
    // The ack's reconciliation locks the request row before its target's (the order every path takes).
    const r = await deps.applyAck(manager, externalAck({ id: t.request_id, dryRun: t.dry_run }, t.service, result, commandId, at), before);
    if (sent && r.outcome === 'applied') {
      await manager.query(`UPDATE request_targets SET attempts = attempts + 1, last_sent_at = $3, last_error = NULL WHERE request_id = $1 AND service = $2`, [
        t.request_id,
        t.service,
        at,
      ]);
    }
    if (r.outcome !== 'applied' && r.outcome !== 'duplicate') {
      deps.logger.warn({ target: t.service, requestId: t.request_id, outcome: r.outcome, detail: r.detail }, 'external result not applied');
    }
    return r.outcome === 'applied';
  });
}

interface PostResult {
  ok: boolean;
  status?: number;
  /** A 2xx answer's JSON body, when it has one. */
  json?: unknown;
  /** Why it failed: `http <status>`, `timeout`, or a connection error code. Never a body. */
  error: string;
}

/** One POST, no redirects followed, bounded in time and in the answer's size. */
function post(url: string, body: string, headers: Record<string, string>, { timeoutMs, ca }: { timeoutMs: number; ca?: string }): Promise<PostResult> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<PostResult>((resolve) => {
    let settled = false;
    const settle = (result: PostResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(result);
    };
    const req = send(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'retention-coordinator', ...headers },
        ...(target.protocol === 'https:' && ca ? { ca: [...rootCertificates, ca] } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
          // Longer than any result: not read further (the status alone decides).
          else {
            settle({ ok, status, error: ok ? '' : `http ${status}` });
            res.destroy();
          }
        });
        res.on('end', () => {
          let json: unknown;
          if (ok && /application\/json/i.test(String(res.headers['content-type'] ?? ''))) {
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              json = undefined;
            }
          }
          settle({ ok, status, ...(json === undefined ? {} : { json }), error: ok ? '' : `http ${status}` });
        });
        res.on('error', (error: NodeJS.ErrnoException) => settle({ ok: false, status, error: error.code ?? 'response_error' }));
      },
    );
    // One deadline for the whole exchange (Node's `timeout` option is an idle timer: a server that
    // sends a byte now and then would hold the delivery, and the leader's loop, for ever).
    const deadline = setTimeout(() => {
      settle({ ok: false, error: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => settle({ ok: false, error: error.code ?? 'request_error' }));
    req.end(body);
  });
}
