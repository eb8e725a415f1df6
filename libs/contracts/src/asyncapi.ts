import { SignatureHeaders } from './message-signature';
import { DefaultTopics, TopicSpecs } from './topics';
import { CurrentVersions, dataSchemaUri, eventJsonSchemas, EventTypes, type EventType } from './envelope';

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
    events: [EventTypes.erasureRequested, EventTypes.sweepRequested, EventTypes.probeRequested],
    key_: 'subject hash (erasure), sweep:<service>:<policy>, or probe:<service>',
    description: 'Commands from the coordinator to the domain services. Erasure commands carry the subject id sealed (see the keys channel).',
  },
  {
    key: 'acks',
    events: [EventTypes.ack, EventTypes.probeResult],
    key_: 'request id (ack) or probe id (probe.result)',
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

/**
 * Every message (tombstones too) is signed by the process that publishes it; a consumer refuses one
 * whose signature is missing or does not verify with a key it trusts (see docs/security.md).
 */
const MESSAGE_HEADERS = {
  type: 'object',
  required: [SignatureHeaders.keyId, SignatureHeaders.signedAt, SignatureHeaders.signature],
  properties: {
    traceparent: { type: 'string', description: 'W3C Trace Context' },
    [SignatureHeaders.keyId]: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Id of the Ed25519 key that signed the message.' },
    [SignatureHeaders.signedAt]: { type: 'string', format: 'date-time', description: 'When it was signed (UTC, ISO 8601 with milliseconds and Z).' },
    [SignatureHeaders.signature]: {
      type: 'string',
      description:
        'base64url Ed25519 signature over, in order, each as a 4-byte big-endian length then its UTF-8 bytes (length 0xFFFFFFFF and no bytes for a null key or value): "retention-message-signature-v1", the topic, the key, the signing time header, the value.',
    },
  },
};

/** The AsyncAPI 3.0 document of the platform's topics, generated from the zod schemas. */
export function asyncApiDocument(): Record<string, unknown> {
  const schemas = eventJsonSchemas();
  const messageName = (type: string): string => type.replace(/^retention\./, '').replace(/[.-](\w)/g, (_, c: string) => c.toUpperCase());
  const messages: Record<string, unknown> = {};
  for (const type of Object.keys(schemas) as EventType[]) {
    messages[messageName(type)] = {
      name: type,
      title: type,
      contentType: 'application/cloudevents+json',
      headers: MESSAGE_HEADERS,
      payload: {
        type: 'object',
        required: ['specversion', 'id', 'type', 'source', 'time', 'dataschema', 'data'],
        properties: {
          specversion: { const: '1.0' },
          id: { type: 'string' },
          type: { const: type },
          source: { type: 'string' },
          time: { type: 'string', format: 'date-time' },
          dataschema: {
            type: 'string',
            examples: [dataSchemaUri(type)],
            description: `urn:retention:schema:${type}:<major>.<minor>; current ${CurrentVersions[type]}`,
          },
          datacontenttype: { const: 'application/json' },
          data: schemas[type],
        },
      },
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
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Retention platform events',
      version: '1.0.0',
      description: 'CloudEvents 1.0 (structured JSON) on Kafka. Topic names may carry a deployment prefix (RETENTION_TOPIC_PREFIX).',
    },
    defaultContentType: 'application/cloudevents+json',
    channels,
    components: { messages },
  };
}
