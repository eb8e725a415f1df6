import { DeadLetterReasonCodes, DeadLetterReasons } from './dead-letter-reasons';
import { CONTENT_TYPE, CurrentVersions, dataSchemaUri, EnvelopeSchema, eventJsonSchemasByMajor, EventTypes, type EventType, toJsonSchema } from './envelope';
import { Headers } from './headers';
import { SignatureHeaders } from './message-signature';
import { DefaultTopics, TopicSpecs } from './topics';

/**
 * How a subject id travels sealed, for implementers in any language (see subject-seal.ts).
 */
const SEALING =
  'Subject ids in erasure.requested 2.x and hold.placed 2.x are sealed: subject.sealedId = {keyId, iv, ciphertext}, AES-256-GCM with the command key named by keyId, iv 12 bytes, ciphertext = encrypted UTF-8 id followed by the 16-byte tag, both base64url without padding; associated data (UTF-8) "retention-subject-v1:erasure:<requestId>:<subject.type>" in a command, "retention-subject-v1:hold:<holdId>:<subject.type>" in a hold. ' +
  'Command keys arrive on this topic: wrapped = AES-256-GCM of the 32-byte key under the key-encryption key RETENTION_COMMAND_KEK (32 bytes, shared by the coordinator and every service), associated data "retention-command-key-v1:<keyId>". ' +
  'Replay the topic from the beginning at every start and keep keys in memory only; forget a key at its destroyAt or on its tombstone, whichever comes first. The coordinator draws a key per rotation period, re-publishes every live key each period, and destroys a key after the command topic retention plus margins: every sealed copy of a subject id (topic, dead letters, backups) is unreadable from then on.';

const CHANNELS: ReadonlyArray<{ key: keyof typeof DefaultTopics; events: EventType[]; key_: string; description: string }> = [
  {
    key: 'commands',
    events: [EventTypes.erasureRequested, EventTypes.sweepRequested, EventTypes.probeRequested, EventTypes.replayRequested],
    key_: 'subject hash (erasure), sweep:<service>:<policy>, probe:<service> or replay:<service>',
    description: 'Commands from the coordinator to the domain services. Erasure commands carry the subject id sealed (see the keys channel).',
  },
  {
    key: 'acks',
    events: [EventTypes.ack, EventTypes.probeResult, EventTypes.replayResult],
    key_: 'request id (ack), probe id (probe.result) or replay id (replay.result)',
    description: 'What each service did for each command, and what it still stores for subjects a probe asked about.',
  },
  {
    key: 'holds',
    events: [EventTypes.holdPlaced],
    key_: 'hold id (a null value releases the hold)',
    description: 'Legal holds, replicated into every service (compacted); a subject hold carries its subject id sealed, its reason as an HMAC only.',
  },
  {
    key: 'registry',
    events: [EventTypes.serviceRegistered],
    key_: 'service name',
    description: "Each service's manifest: subject types and policies (compacted).",
  },
  {
    key: 'dlq',
    events: [EventTypes.deadLetter],
    key_: 'the original key',
    description: 'Messages a consumer could not process, with the reason: metadata, identifiers and the SHA-256 of the payload, never its bytes (since 1.1).',
  },
  {
    key: 'keys',
    events: [EventTypes.commandKey],
    key_: 'key id (a null value: the key is destroyed)',
    description: `Command keys, only the coordinator writes. ${SEALING}`,
  },
  {
    key: 'checkpoints',
    events: [EventTypes.ledgerCheckpoint],
    key_: 'UTC day of the checkpoint (YYYY-MM-DD)',
    description:
      "Signed checkpoints of the coordinator's ledger (Merkle tree size and root, RFC 6962 style), outside its database; only the coordinator writes (compacted: each day's last checkpoint is kept).",
  },
];

/** What a process that takes part is, for the `operations` section. */
type Role = 'coordinator' | 'service' | 'any consumer' | 'auditor';

/**
 * Who sends and who receives each channel's messages (AsyncAPI 3 operations; `x-retention-role`
 * names the party, since one document describes every party).
 */
const OPERATIONS: ReadonlyArray<{ id: string; action: 'send' | 'receive'; channel: keyof typeof DefaultTopics; role: Role; summary: string }> = [
  {
    id: 'coordinatorSendsCommands',
    action: 'send',
    channel: 'commands',
    role: 'coordinator',
    summary: 'The coordinator publishes erasure and sweep commands, signed with its key.',
  },
  {
    id: 'serviceReceivesCommands',
    action: 'receive',
    channel: 'commands',
    role: 'service',
    summary:
      'A service reads the commands with the consumer group <prefix>retention.<service> (or the one its manifest names), verifies each against the coordinator keys (age limit: one day), applies it once per requestId, acks it, and commits the offset only after the ack or the dead letter is written. Commands whose targets do not name it (a non-empty list) are ignored.',
  },
  {
    id: 'serviceSendsAcks',
    action: 'send',
    channel: 'acks',
    role: 'service',
    summary: 'A service acknowledges each command it applied (or re-sends its stored ack for a duplicate), signed with its own key.',
  },
  {
    id: 'coordinatorReceivesAcks',
    action: 'receive',
    channel: 'acks',
    role: 'coordinator',
    summary: 'The coordinator counts an ack only when signed by the key it trusts for data.service, for a request that targeted that service.',
  },
  {
    id: 'coordinatorSendsHolds',
    action: 'send',
    channel: 'holds',
    role: 'coordinator',
    summary: 'The coordinator places legal holds (value) and releases them (tombstone, also signed).',
  },
  {
    id: 'serviceReceivesHolds',
    action: 'receive',
    channel: 'holds',
    role: 'service',
    summary: 'A service replays the holds topic from its beginning at every start (no age limit) and applies no command before it has read it to its end.',
  },
  {
    id: 'serviceSendsRegistration',
    action: 'send',
    channel: 'registry',
    role: 'service',
    summary:
      'A service publishes its manifest at start and whenever its policies change, keyed by its name, signed with the key it presents in data.signingKey.',
  },
  {
    id: 'coordinatorReceivesRegistrations',
    action: 'receive',
    channel: 'registry',
    role: 'coordinator',
    summary: 'The coordinator makes a service a target once it trusts its key (configured, or approved by an admin).',
  },
  {
    id: 'coordinatorSendsCommandKeys',
    action: 'send',
    channel: 'keys',
    role: 'coordinator',
    summary: 'The coordinator publishes every live command key (wrapped) each rotation, and a tombstone when it destroys one.',
  },
  {
    id: 'serviceReceivesCommandKeys',
    action: 'receive',
    channel: 'keys',
    role: 'service',
    summary: 'A service replays the keys topic at every start and keeps the keys in memory only.',
  },
  {
    id: 'consumerSendsDeadLetters',
    action: 'send',
    channel: 'dlq',
    role: 'any consumer',
    summary:
      'Every consumer (services and the coordinator) dead-letters a message it cannot process, with the reason code, then commits its offset and goes on.',
  },
  {
    id: 'coordinatorSendsCheckpoints',
    action: 'send',
    channel: 'checkpoints',
    role: 'coordinator',
    summary: 'The coordinator publishes signed ledger checkpoints.',
  },
  {
    id: 'auditorReceivesCheckpoints',
    action: 'receive',
    channel: 'checkpoints',
    role: 'auditor',
    summary: 'The coordinator (at start) and auditors read the checkpoints to verify the ledger.',
  },
];

/**
 * Every message (tombstones too) is signed by the process that publishes it; a consumer refuses one
 * whose signature is missing or does not verify with a key it trusts (see docs/security.md).
 */
const MESSAGE_HEADERS = {
  type: 'object',
  required: [SignatureHeaders.keyId, SignatureHeaders.signedAt, SignatureHeaders.signature],
  properties: {
    [Headers.contentType]: {
      type: 'string',
      examples: [CONTENT_TYPE],
      description: `What every producer of the platform sets (${CONTENT_TYPE}); consumers do not depend on it.`,
    },
    [Headers.traceparent]: { type: 'string', pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$', description: 'W3C Trace Context (optional).' },
    [Headers.tracestate]: { type: 'string', description: 'W3C Trace Context (optional).' },
    [SignatureHeaders.keyId]: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Id of the Ed25519 key that signed the message.' },
    [SignatureHeaders.signedAt]: {
      type: 'string',
      format: 'date-time',
      pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$',
      description:
        'When it was signed: UTC, ISO 8601 with milliseconds and Z, exactly as JavaScript toISOString() writes it. Commands older than the accepted age (default one day) are refused as signature_stale; anything later than now plus the clock skew (default 5 minutes) as signature_from_future.',
    },
    [SignatureHeaders.signature]: {
      type: 'string',
      pattern: '^[A-Za-z0-9_-]{86}$',
      description:
        'base64url (no padding) of the 64-byte Ed25519 signature over, in order, each as a 4-byte big-endian length then its UTF-8 bytes (length 0xFFFFFFFF and no bytes for a null key or value): "retention-message-signature-v1", the topic (with its prefix), the key, the signing time header, the value bytes exactly as produced.',
    },
  },
};

const DEAD_LETTER_HEADERS = {
  ...MESSAGE_HEADERS,
  required: [...MESSAGE_HEADERS.required, Headers.dlqReason],
  properties: {
    ...MESSAGE_HEADERS.properties,
    [Headers.dlqReason]: {
      type: 'string',
      enum: DeadLetterReasonCodes,
      description: `The reason code, as in data.reason.code: ${DeadLetterReasonCodes.map((code) => `${code}: ${DeadLetterReasons[code]}`).join(' ')}`,
    },
  },
};

// Event types are [a-z.-]: only the dot needs escaping (a `\-` outside a class is invalid in a unicode-mode pattern).
const escapeRegExp = (text: string): string => text.replace(/\./g, '\\.');

/**
 * A message's payload: the CloudEvents envelope (generated from the decoder's own schema) with
 * `type` fixed, `dataschema` restricted to the majors a reader accepts, and `data` the schema of
 * the major `dataschema` names (one `oneOf` branch per major when there are several).
 */
function payloadSchema(type: EventType, majors: Record<number, Record<string, unknown>>): Record<string, unknown> {
  const envelope = toJsonSchema(EnvelopeSchema) as { properties: Record<string, unknown>; required: string[] };
  const versions = Object.keys(majors).map(Number);
  const dataschema = (major: string): string => `^urn:retention:schema:${escapeRegExp(type)}:${major}\\.(0|[1-9]\\d*)$`;
  const byMajor = versions.map((major) => ({ properties: { dataschema: { pattern: dataschema(String(major)) }, data: majors[major] } }));
  return {
    type: 'object',
    required: envelope.required,
    properties: {
      ...envelope.properties,
      type: { const: type },
      dataschema: {
        type: 'string',
        pattern: dataschema(`(${versions.join('|')})`),
        examples: [dataSchemaUri(type)],
        description: `urn:retention:schema:${type}:<major>.<minor>; majors a reader accepts: ${versions.join(', ')}; this build writes ${CurrentVersions[type]}. A minor version only adds optional fields: read every minor of a major you know, ignore fields you do not know; dead-letter an unknown major (unsupported_version).`,
      },
      ...(versions.length === 1 ? { data: majors[versions[0]!] } : {}),
    },
    ...(versions.length > 1 ? { oneOf: byMajor } : {}),
  };
}

/** The AsyncAPI 3.0 document of the platform's topics, generated from the zod schemas. */
export function asyncApiDocument(): Record<string, unknown> {
  const schemas = eventJsonSchemasByMajor();
  const messageName = (type: string): string => type.replace(/^retention\./, '').replace(/[.-](\w)/g, (_, c: string) => c.toUpperCase());
  const messages: Record<string, unknown> = {};
  for (const type of Object.keys(schemas) as EventType[]) {
    messages[messageName(type)] = {
      name: type,
      title: type,
      contentType: 'application/cloudevents+json',
      headers: type === EventTypes.deadLetter ? DEAD_LETTER_HEADERS : MESSAGE_HEADERS,
      payload: payloadSchema(type, schemas[type]),
    };
  }
  const channels: Record<string, unknown> = {};
  for (const c of CHANNELS) {
    channels[c.key] = {
      address: DefaultTopics[c.key],
      description: `${c.description} Key: ${c.key_}. Partitions: ${TopicSpecs[c.key].partitions}; config: ${JSON.stringify(TopicSpecs[c.key].config)}.`,
      messages: Object.fromEntries(c.events.map((e) => [messageName(e), { $ref: `#/components/messages/${messageName(e)}` }])),
    };
  }
  const operations: Record<string, unknown> = {};
  for (const o of OPERATIONS) {
    const channel = CHANNELS.find((c) => c.key === o.channel)!;
    operations[o.id] = {
      action: o.action,
      channel: { $ref: `#/channels/${o.channel}` },
      summary: o.summary,
      tags: [{ name: o.role }],
      'x-retention-role': o.role,
      messages: channel.events.map((e) => ({ $ref: `#/channels/${o.channel}/messages/${messageName(e)}` })),
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Retention platform events',
      version: '1.0.0',
      description:
        'CloudEvents 1.0 (structured JSON) on Kafka. Topic names may carry a deployment prefix (RETENTION_TOPIC_PREFIX). One document for every party: each operation names who sends or receives (x-retention-role). Walk-through: docs/protocol.md; a conformance kit: @retention/conformance (retention-conformance).',
    },
    defaultContentType: 'application/cloudevents+json',
    channels,
    operations,
    components: { messages },
  };
}
