import { z } from 'zod';
import { type Issue, UnsupportedVersionError, ValidationError } from './errors';
import { LedgerCheckpointV1 } from './checkpoint';
import {
  AckV1,
  DeadLetterV1,
  ErasureRequestedV1,
  ErasureRequestedV2,
  HoldPlacedV1,
  HoldPlacedV2,
  ProbeRequestedV1,
  ProbeResultV1,
  ReplayRequestedV1,
  ReplayResultV1,
  ServiceRegisteredV1,
  SweepRequestedV1,
} from './schemas';
import { CommandKeyV1 } from './subject-seal';

/**
 * Every message is a CloudEvents 1.0 event in structured JSON mode. The payload's schema version is
 * carried in `dataschema` (`urn:retention:schema:<type>:<major>.<minor>`): a consumer accepts every
 * minor version of a major it knows (unknown fields are ignored) and rejects an unknown major.
 */
export const EventTypes = {
  erasureRequested: 'retention.erasure.requested',
  sweepRequested: 'retention.sweep.requested',
  ack: 'retention.ack',
  holdPlaced: 'retention.hold.placed',
  serviceRegistered: 'retention.service.registered',
  deadLetter: 'retention.dead-letter',
  commandKey: 'retention.command-key',
  ledgerCheckpoint: 'retention.ledger.checkpoint',
  probeRequested: 'retention.probe.requested',
  probeResult: 'retention.probe.result',
  replayRequested: 'retention.replay.requested',
  replayResult: 'retention.replay.result',
} as const;

const schemas = {
  [EventTypes.erasureRequested]: { 1: ErasureRequestedV1, 2: ErasureRequestedV2 },
  [EventTypes.sweepRequested]: { 1: SweepRequestedV1 },
  [EventTypes.ack]: { 1: AckV1 },
  [EventTypes.holdPlaced]: { 1: HoldPlacedV1, 2: HoldPlacedV2 },
  [EventTypes.serviceRegistered]: { 1: ServiceRegisteredV1 },
  [EventTypes.deadLetter]: { 1: DeadLetterV1 },
  [EventTypes.commandKey]: { 1: CommandKeyV1 },
  [EventTypes.ledgerCheckpoint]: { 1: LedgerCheckpointV1 },
  [EventTypes.probeRequested]: { 1: ProbeRequestedV1 },
  [EventTypes.probeResult]: { 1: ProbeResultV1 },
  [EventTypes.replayRequested]: { 1: ReplayRequestedV1 },
  [EventTypes.replayResult]: { 1: ReplayResultV1 },
} as const;

export type EventType = keyof typeof schemas;

function latestSchema(type: EventType): z.ZodType {
  const versions = schemas[type] as Record<number, z.ZodType>;
  return versions[Math.max(...Object.keys(versions).map(Number))]!;
}

/** The current version this build writes, per type. */
export const CurrentVersions: Readonly<Record<EventType, `${number}.${number}`>> = {
  [EventTypes.erasureRequested]: '2.0',
  [EventTypes.sweepRequested]: '1.1',
  [EventTypes.ack]: '1.1',
  [EventTypes.holdPlaced]: '2.0',
  [EventTypes.serviceRegistered]: '1.3',
  [EventTypes.deadLetter]: '1.1',
  [EventTypes.commandKey]: '1.0',
  [EventTypes.ledgerCheckpoint]: '1.0',
  [EventTypes.probeRequested]: '1.0',
  [EventTypes.probeResult]: '1.0',
  [EventTypes.replayRequested]: '1.0',
  [EventTypes.replayResult]: '1.0',
};

/** The schema of the major version this build writes (the highest one). */
type LatestSchema<T extends EventType> = (typeof schemas)[T] extends { 2: infer S } ? S : (typeof schemas)[T][1];
export type EventData<T extends EventType> = z.output<LatestSchema<T>>;
export type EventInput<T extends EventType> = z.input<LatestSchema<T>>;

export interface Envelope<T extends EventType = EventType> {
  specversion: '1.0';
  id: string;
  type: T;
  source: string;
  time: string;
  datacontenttype: 'application/json';
  dataschema: string;
  data: EventData<T>;
}

/** A decoded event, discriminated by `type`. */
export type AnyEnvelope = { [T in EventType]: Envelope<T> }[EventType];

export const CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

export function dataSchemaUri(type: EventType, version: string = CurrentVersions[type]): string {
  return `urn:retention:schema:${type}:${version}`;
}

/** `<major>.<minor>`, each a number without leading zeros. */
const VERSION = '(0|[1-9]\\d*)\\.(?:0|[1-9]\\d*)';
const DATASCHEMA = new RegExp(`^urn:retention:schema:([a-z.-]+):${VERSION}$`);

/** The CloudEvents envelope every message has, whatever its type (the AsyncAPI document is generated from it). */
export const EnvelopeSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1).max(128),
  type: z.string().min(1).max(128),
  source: z.string().min(1).max(512),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal('application/json').optional(),
  dataschema: z.string().regex(DATASCHEMA, 'must be urn:retention:schema:<type>:<major>.<minor>'),
  data: z.unknown(),
});

export interface EncodeOptions {
  source: string;
  id?: string;
  time?: Date;
}

/** Validates `data` against the current schema of `type` and returns the event and its JSON. */
export function encodeEvent<T extends EventType>(type: T, data: EventInput<T>, options: EncodeOptions): { envelope: Envelope<T>; value: string } {
  const schema = latestSchema(type);
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new ValidationError(`invalid ${type} data`, toIssues(parsed.error, 'data'));
  const envelope: Envelope<T> = {
    specversion: '1.0',
    id: options.id ?? crypto.randomUUID(),
    type,
    source: options.source,
    time: (options.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json',
    dataschema: dataSchemaUri(type),
    data: parsed.data as EventData<T>,
  };
  return { envelope, value: JSON.stringify(envelope) };
}

export type DecodeResult<T extends EventType = EventType> =
  { ok: true; event: { [K in T]: Envelope<K> }[T] } | { ok: false; error: ValidationError | UnsupportedVersionError };

/**
 * Encodes `data` under an older major version of `type` (e.g. erasure.requested 1.x, with the subject
 * id in clear, as an older coordinator or another client wrote it): for tests and interop only.
 */
export function encodeEventVersion(type: EventType, major: number, data: unknown, options: EncodeOptions): { value: string } {
  const schema = (schemas[type] as Record<number, z.ZodType | undefined>)[major];
  if (!schema) throw new UnsupportedVersionError(`unsupported major version ${major} of ${type}`);
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new ValidationError(`invalid ${type} data`, toIssues(parsed.error, 'data'));
  const envelope = {
    specversion: '1.0',
    id: options.id ?? crypto.randomUUID(),
    type,
    source: options.source,
    time: (options.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json',
    dataschema: dataSchemaUri(type, `${major}.0`),
    data: parsed.data,
  };
  return { value: JSON.stringify(envelope) };
}

/**
 * Parses and validates a message. Never throws: a bad message is a value the caller routes to the
 * dead-letter topic. `accept` restricts the types the caller handles (others are an error).
 */
export function decodeEvent<T extends EventType = EventType>(raw: Buffer | string | null | undefined, accept?: readonly T[]): DecodeResult<T> {
  if (raw === null || raw === undefined) return fail(new ValidationError('message has no value'));
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (error) {
    return fail(new ValidationError(`message is not valid JSON (${(error as Error).message})`));
  }
  const envelope = EnvelopeSchema.safeParse(json);
  if (!envelope.success) return fail(new ValidationError('invalid CloudEvents envelope', toIssues(envelope.error)));
  const { type, dataschema } = envelope.data;
  if (!(type in schemas) || (accept && !accept.includes(type as T))) {
    return fail(new UnsupportedVersionError(`unsupported event type "${type}"${accept ? ` (accepted: ${accept.join(', ')})` : ''}`));
  }
  const [, schemaType, version] = DATASCHEMA.exec(dataschema) ?? [];
  if (schemaType !== type) {
    return fail(new ValidationError('invalid CloudEvents envelope', [{ path: 'dataschema', message: `names type "${schemaType}" but type is "${type}"` }]));
  }
  const versions = schemas[type as EventType] as Record<number, z.ZodType | undefined>;
  const schema = versions[Number(version)];
  if (!schema) {
    return fail(new UnsupportedVersionError(`unsupported major version ${version} of ${type} (supported: ${Object.keys(versions).join(', ')})`));
  }
  const data = schema.safeParse(envelope.data.data);
  if (!data.success) return fail(new ValidationError(`invalid ${type} data`, toIssues(data.error, 'data')));
  return { ok: true, event: { ...envelope.data, datacontenttype: 'application/json', data: data.data } as never };
}

function fail(error: ValidationError | UnsupportedVersionError): { ok: false; error: ValidationError | UnsupportedVersionError } {
  return { ok: false, error };
}

/** Turns zod issues into `{path, message}` pairs naming the offending field. */
export function toIssues(error: z.ZodError, prefix?: string): Issue[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter((p) => p !== undefined && p !== '').join('.'),
    message: issue.message,
  }));
}

/** The JSON Schema (draft 7, what AsyncAPI 3 schemas are based on) of a zod schema, as a producer writes it. */
export function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-7' }) as Record<string, unknown>;
  return json;
}

/** JSON Schemas of every major version a reader of this build accepts, per event type (the AsyncAPI document). */
export function eventJsonSchemasByMajor(): Record<EventType, Record<number, Record<string, unknown>>> {
  return Object.fromEntries(
    (Object.keys(schemas) as EventType[]).map((type) => [
      type,
      Object.fromEntries(Object.entries(schemas[type] as Record<number, z.ZodType>).map(([major, schema]) => [Number(major), toJsonSchema(schema)])),
    ]),
  ) as Record<EventType, Record<number, Record<string, unknown>>>;
}

/** JSON Schemas of the current version of every event's data, for the AsyncAPI document. */
export function eventJsonSchemas(): Record<EventType, unknown> {
  return Object.fromEntries(
    (Object.keys(schemas) as EventType[]).map((type) => [type, z.toJSONSchema(latestSchema(type), { io: 'input', unrepresentable: 'any' })]),
  ) as Record<EventType, unknown>;
}
