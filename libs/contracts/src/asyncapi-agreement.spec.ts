import { generateKeyPairSync, sign } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { asyncApiDocument } from './asyncapi';
import { DeadLetterReasonCodes } from './dead-letter-reasons';
import { dataSchemaUri, decodeEvent, type EventType, EventTypes } from './envelope';
import { Headers } from './headers';
import { keyLookup, SignatureHeaders, signingInput, verifyMessage } from './message-signature';

/**
 * The AsyncAPI document and the decoders must say the same thing: every message derived here (the
 * valid samples, then each field removed, nulled, mistyped, too long, too short, off-pattern,
 * off-enum, each enum value tried, unknown majors and types) is accepted by the document's schema
 * (ajv) exactly when `decodeEvent` accepts it. A rule added to one side only fails this test.
 */

// ajv-formats is CommonJS: its default export arrives wrapped under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as typeof addFormatsModule;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: Json[];
  const?: Json;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  minItems?: number;
  format?: string;
};

const T = '2026-01-01T00:00:00.000Z';
const T2 = '2026-02-01T00:00:00+01:00';
const UUID = '6f1c1f1e-2d7a-4a57-9a51-3b1f5d0c9e01';
const SEALED = { keyId: 'ck-20260101T000000Z-0a1b2c3d', iv: 'AAAAAAAAAAAAAAAA', ciphertext: 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' };
const HEX = 'a'.repeat(64);

/** Valid data per type and major: every optional field set, so each can be mutated. */
const SAMPLES: Record<EventType, Record<number, Array<Record<string, Json>>>> = {
  [EventTypes.erasureRequested]: {
    1: [
      {
        requestId: UUID,
        subject: { type: 'user', id: 'u-1' },
        dryRun: false,
        requestedAt: T,
        dueAt: T2,
        targets: ['sessions'],
        attempt: 1,
        holds: [{ holdId: 'h-1', scope: 'policy', policy: 'session_records', service: 'sessions' }],
      },
    ],
    2: [{ requestId: UUID, subject: { type: 'user', sealedId: SEALED }, dryRun: true, requestedAt: T, dueAt: T, targets: [], attempt: 2, holds: [] }],
  },
  [EventTypes.sweepRequested]: {
    1: [
      {
        requestId: UUID,
        service: 'sessions',
        policy: 'session_records',
        dryRun: true,
        requestedAt: T,
        asOf: T2,
        targets: ['sessions'],
        attempt: 1,
        holds: [{ holdId: 'h-2', scope: 'subject' }],
        definitions: [{ service: 'sessions', policy: 'session_records', definitionHash: HEX }],
      },
    ],
  },
  [EventTypes.ack]: {
    1: [
      {
        requestId: UUID,
        commandId: 'cmd-1',
        kind: 'erasure',
        service: 'sessions',
        status: 'held',
        dryRun: false,
        startedAt: T,
        finishedAt: T2,
        tables: [
          {
            table: 'sessions',
            policy: 'session_records',
            action: 'delete',
            matched: 3,
            deleted: 1,
            anonymized: 0,
            archived: 0,
            held: 2,
            partitions: { dropped: ['sessions_2025_01'], detached: [], kept: [] },
          },
        ],
        holdIds: ['h-1'],
        reason: '2 record(s) kept under legal hold',
        error: { code: 'rows_locked', message: 'locked', retriable: true },
        policyHash: 'abc',
        subjectHash: HEX,
      },
    ],
  },
  [EventTypes.holdPlaced]: {
    1: [
      {
        holdId: 'h-1',
        scope: 'subject',
        subject: { type: 'user', id: 'u-1' },
        service: 'sessions',
        reason: 'litigation',
        placedBy: 'admin:alice',
        placedAt: T,
        expiresAt: T2,
      },
      { holdId: 'h-2', scope: 'record', table: 'sessions', recordKey: '42', reason: 'audit', placedBy: 'admin', placedAt: T },
      { holdId: 'h-3', scope: 'policy', policy: 'session_records', reason: 'audit', placedBy: 'admin', placedAt: T },
    ],
    2: [
      { holdId: 'h-4', scope: 'subject', subject: { type: 'user', sealedId: SEALED }, reasonRef: HEX, placedBy: 'admin', placedAt: T, expiresAt: T2 },
      { holdId: 'h-5', scope: 'record', service: 'sessions', table: 'sessions', recordKey: '7', reasonRef: HEX, placedBy: 'admin', placedAt: T },
    ],
  },
  [EventTypes.serviceRegistered]: {
    1: [
      {
        service: 'sessions',
        version: '1.2.3',
        subjects: [{ type: 'user', tables: [{ table: 'sessions', column: 'user_id', action: 'delete' }] }],
        policies: [
          {
            name: 'session_records',
            table: 'sessions',
            timestampColumn: 'started_at',
            period: 'P90D',
            action: 'delete',
            legalBasis: 'Storage limitation',
            conditions: [{ column: 'kind', op: 'in', value: ['web', 'app'] }],
            schedule: '0 3 * * *',
            directory: { path: 'logs', suffixes: ['.log'] },
            definitionHash: HEX,
          },
        ],
        policyHash: 'p'.repeat(64),
        publishedAt: T,
        signingKey: { keyId: 'sessions-1', publicKey: 'A'.repeat(43) },
        consumerGroup: 'retention.sessions',
      },
    ],
  },
  [EventTypes.deadLetter]: {
    1: [
      {
        consumer: 'sessions',
        reason: { code: 'validation_failed', message: 'invalid' },
        topic: 'data.retention',
        partition: 0,
        offset: '12',
        payload: null,
        refs: { eventId: 'e-1', eventType: 'retention.ack', requestId: UUID, commandId: 'c', holdId: 'h', service: 'sessions' },
        payloadBytes: 100,
        payloadSha256: HEX,
        failedAt: T,
      },
    ],
  },
  [EventTypes.commandKey]: { 1: [{ keyId: SEALED.keyId, wrapped: { iv: SEALED.iv, ciphertext: SEALED.ciphertext }, createdAt: T, destroyAt: T2 }] },
  [EventTypes.probeRequested]: {
    1: [{ probeId: UUID, requestedAt: T, targets: ['sessions'], trigger: 'completion', items: [{ requestId: UUID, subjectType: 'user', subjectHash: HEX }] }],
  },
  [EventTypes.probeResult]: {
    1: [
      {
        probeId: UUID,
        service: 'sessions',
        startedAt: T,
        finishedAt: T2,
        policyHash: 'abc',
        items: [{ requestId: UUID, status: 'found', remaining: 2, held: 1, tables: [{ table: 'sessions', remaining: 2, held: 1 }] }],
      },
    ],
  },
  [EventTypes.replayRequested]: {
    1: [{ replayId: UUID, requestedAt: T, targets: ['sessions'], since: T, items: [{ requestId: UUID, subjectType: 'user', subjectHash: HEX }] }],
  },
  [EventTypes.replayResult]: {
    1: [
      {
        replayId: UUID,
        service: 'sessions',
        startedAt: T,
        finishedAt: T2,
        items: [
          {
            requestId: UUID,
            status: 'reapplied',
            tables: [{ table: 'sessions', action: 'delete', matched: 2, deleted: 2, anonymized: 0, archived: 0, held: 0 }],
          },
          { requestId: UUID, status: 'failed', tables: [], error: { code: 'rows_locked', message: 'rows stayed locked', retriable: true } },
        ],
      },
    ],
  },
  [EventTypes.ledgerCheckpoint]: {
    1: [{ treeSize: 1, rootHash: HEX, lastEntryHash: 'b'.repeat(64), timestamp: T, keyId: 'coordinator-1', signature: 'A'.repeat(86) }],
  },
};

function envelope(type: EventType, major: number, data: Json): Record<string, Json> {
  return {
    specversion: '1.0',
    id: 'evt-1',
    type,
    source: '/retention/test',
    time: T,
    datacontenttype: 'application/json',
    dataschema: dataSchemaUri(type, `${major}.0`),
    data,
  };
}

const clone = <V>(v: V): V => structuredClone(v);

/** Sets (or, with `remove`, deletes) the value at `path` in a copy of `root`. */
function edit(root: Json, path: Array<string | number>, value: Json | undefined): Json {
  const copy = clone(root);
  let at = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, Json>;
  const last = path.at(-1)!;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

const types = (s: Schema): string[] => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);

/** Values that break, or probe the edge of, one field's schema. */
function probes(schema: Schema, value: Json | undefined): Json[] {
  const out: Json[] = [null, { unexpected: true }];
  const t = types(schema);
  if (!t.includes('string')) out.push('42');
  if (!t.includes('number') && !t.includes('integer')) out.push(42);
  if (!t.includes('boolean')) out.push(true);
  if (!t.includes('array')) out.push([]);
  if (schema.maxLength !== undefined) out.push('a'.repeat(schema.maxLength + 1), 'a'.repeat(schema.maxLength));
  if (schema.minLength !== undefined && schema.minLength > 0) out.push('a'.repeat(schema.minLength - 1));
  if (schema.pattern !== undefined) out.push(`${typeof value === 'string' ? value : 'x'}!`, '', 'A B');
  if (schema.format === 'date-time') out.push('2026-13-01T00:00:00Z', '2026-01-01', '2026-01-01T00:00:00', '2026-01-01T00:00:00+01:00', '2026-01-01t00:00:00z');
  for (const e of schema.enum ?? []) out.push(e, `${String(e)}x`);
  if (schema.const !== undefined) out.push(`${String(schema.const)}x`);
  if (t.includes('integer') || t.includes('number')) out.push(1.5, -1, 0, (schema.minimum ?? 0) - 1, Number.MAX_SAFE_INTEGER + 2);
  if (schema.maxItems !== undefined && Array.isArray(value)) out.push(Array.from({ length: schema.maxItems + 1 }, () => value[0] ?? 'x'));
  if (schema.minItems !== undefined && schema.minItems > 0) out.push([]);
  if (t.includes('array') && Array.isArray(value)) out.push([...value, 42], [...value, null]);
  return out;
}

/** Every mutation of `root` under `path`, following `schema` and the sample value. */
function mutations(schema: Schema, root: Json, path: Array<string | number>, value: Json | undefined): Json[] {
  const out = path.length > 0 ? probes(schema, value).map((p) => edit(root, path, p)) : [];
  if (schema.properties && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [name, sub] of Object.entries(schema.properties)) {
      if (name in value) out.push(edit(root, [...path, name], undefined));
      out.push(...mutations(sub, root, [...path, name], value[name]));
    }
    out.push(edit(root, [...path, 'unknownField'], 'ignored'));
  }
  if (schema.items && Array.isArray(value) && value.length > 0) out.push(...mutations(schema.items, root, [...path, 0], value[0]));
  return out;
}

describe('the AsyncAPI document and the decoders agree', () => {
  const doc = asyncApiDocument() as {
    components: { messages: Record<string, { name: EventType; headers: Schema & { required: string[] }; payload: Schema & { oneOf?: Schema[] } }> };
    channels: Record<string, { messages: Record<string, unknown> }>;
    operations: Record<string, { action: string; channel: { $ref: string }; 'x-retention-role': string }>;
  };
  const ajv = new Ajv({ strict: false, allErrors: false });
  addFormats(ajv);
  const messages = Object.values(doc.components.messages);

  for (const message of messages) {
    const type = message.name;
    it(`${type}: every derived message is accepted by both or refused by both`, () => {
      const validate: ValidateFunction = ajv.compile(message.payload);
      const candidates: Json[] = [];
      // A new type (or major) needs valid samples here, every optional field set: then it is checked like the others.
      expect(SAMPLES[type], `add valid samples of ${type} to SAMPLES in asyncapi-agreement.spec.ts`).toBeDefined();
      expect(Object.keys(SAMPLES[type]).length, `samples of every major of ${type} a reader accepts`).toBe(message.payload.oneOf?.length ?? 1);
      for (const [major, samples] of Object.entries(SAMPLES[type])) {
        const dataSchema = (message.payload.oneOf?.find((b) => b.properties?.dataschema?.pattern?.includes(`:${major}\\.`))?.properties?.data ??
          message.payload.properties!.data)!;
        for (const sample of samples) {
          const valid = envelope(type, Number(major), sample);
          // The sample itself, with each envelope field probed, then its data.
          expect({ ajv: validate(valid), decoder: decodeEvent(JSON.stringify(valid), [type]).ok, errors: validate.errors }).toMatchObject({
            ajv: true,
            decoder: true,
          });
          const { data: _, ...envelopeProperties } = message.payload.properties!;
          candidates.push(...mutations({ properties: envelopeProperties }, valid, [], valid));
          candidates.push(...mutations(dataSchema, valid, ['data'], valid.data));
          for (const dataschema of [
            dataSchemaUri(type, '9.0'),
            dataSchemaUri(type, `0${major}.0`),
            dataSchemaUri(type, `${major}.01`),
            dataSchemaUri(type, `${major}.7`),
            dataSchemaUri(type, `${major}`),
            ...Object.keys(SAMPLES[type]).map((m) => dataSchemaUri(type, `${m}.0`)),
            dataSchemaUri(type === EventTypes.ack ? EventTypes.deadLetter : EventTypes.ack, `${major}.0`),
          ]) {
            candidates.push(edit(valid, ['dataschema'], dataschema));
          }
          candidates.push(edit(valid, ['type'], type === EventTypes.ack ? EventTypes.deadLetter : EventTypes.ack));
        }
      }
      const disagreements = candidates
        .map((candidate) => ({ candidate, ajv: validate(candidate), decoder: decodeEvent(JSON.stringify(candidate), [type]).ok }))
        .filter((r) => r.ajv !== r.decoder);
      expect(disagreements.slice(0, 5)).toEqual([]);
      // The derived set is not trivial: most of it is refused, some of it (edges, unknown fields) accepted.
      const refused = candidates.filter((c) => !validate(c)).length;
      expect(refused).toBeGreaterThan(40);
      expect(candidates.length - refused).toBeGreaterThan(5);
    });
  }

  it('the headers: what signMessage writes is valid, what verifyMessage refuses for its form the document refuses too', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const lookup = keyLookup([{ keyId: 'coordinator-1', publicKey, owner: 'coordinator' }]);
    const message = { topic: 'data.retention', key: 'k', value: '{}' };
    const headersFor = (keyId: string, signedAt: string, signature?: string): Record<string, string> => ({
      [Headers.contentType]: 'application/cloudevents+json; charset=utf-8',
      [Headers.traceparent]: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      [SignatureHeaders.keyId]: keyId,
      [SignatureHeaders.signedAt]: signedAt,
      [SignatureHeaders.signature]: signature ?? sign(null, signingInput(message, signedAt), privateKey).toString('base64url'),
    });
    const validate = ajv.compile(doc.components.messages.erasureRequested!.headers);
    const now = new Date().toISOString();
    const cases: Array<Record<string, string>> = [
      headersFor('coordinator-1', now),
      headersFor('coordinator 1', now),
      headersFor('c'.repeat(65), now),
      headersFor('coordinator-1', now.replace(/\.\d{3}Z$/, 'Z')),
      headersFor('coordinator-1', now.replace('Z', '+00:00')),
      headersFor('coordinator-1', now, 'A'.repeat(86)),
      headersFor('coordinator-1', now, 'A'.repeat(85)),
    ];
    for (const name of Object.values(SignatureHeaders)) {
      const h = headersFor('coordinator-1', now);
      delete h[name];
      cases.push(h);
    }
    const results = cases.map((headers) => {
      let verified = true;
      try {
        verifyMessage(lookup, message, headers);
      } catch {
        verified = false;
      }
      return { headers, ajv: validate(headers), verified };
    });
    expect(results[0]).toMatchObject({ ajv: true, verified: true });
    // Where the form is wrong (the document refuses), the signature check refuses too. (A well-formed
    // header can still fail verification: a wrong signature is not a matter of form.)
    expect(results.filter((r) => !r.ajv && r.verified)).toEqual([]);
    expect(results.filter((r) => !r.ajv).length).toBe(cases.length - 2);
  });

  it('dead letters carry the reason header, one of the documented codes', () => {
    const headers = doc.components.messages.deadLetter!.headers;
    expect(headers.required).toContain(Headers.dlqReason);
    expect((headers.properties![Headers.dlqReason] as Schema).enum).toEqual(DeadLetterReasonCodes);
    for (const code of ['validation_failed', 'unsupported_version', 'signature_missing', 'signature_stale', 'seal_invalid', 'command_key_unknown']) {
      expect(DeadLetterReasonCodes).toContain(code);
    }
  });

  it('operations: on every channel someone sends and someone receives, and each names its party', () => {
    for (const channel of Object.keys(doc.channels)) {
      const ops = Object.values(doc.operations).filter((o) => o.channel.$ref === `#/channels/${channel}`);
      expect(ops.map((o) => o.action).sort(), channel).toEqual(channel === 'dlq' ? ['send'] : ['receive', 'send']);
      for (const o of ops) expect(['coordinator', 'service', 'any consumer', 'auditor']).toContain(o['x-retention-role']);
    }
    const commands = Object.values(doc.operations).filter((o) => o.channel.$ref === '#/channels/commands');
    expect(Object.fromEntries(commands.map((o) => [o.action, o['x-retention-role']]))).toEqual({ send: 'coordinator', receive: 'service' });
  });
});
