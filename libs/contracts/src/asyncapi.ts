import { SignatureHeaders } from './message-signature';
import { DefaultTopics, TopicSpecs } from './topics';
import { CurrentVersions, dataSchemaUri, eventJsonSchemas, EventTypes, type EventType } from './envelope';

const CHANNELS: ReadonlyArray<{ key: keyof typeof DefaultTopics; events: EventType[]; key_: string; description: string }> = [
  {
    key: 'commands',
    events: [EventTypes.erasureRequested, EventTypes.sweepRequested],
    key_: 'subject hash (erasure) or sweep:<service>:<policy>',
    description: 'Commands from the coordinator to the domain services.',
  },
  { key: 'acks', events: [EventTypes.ack], key_: 'request id', description: 'What each service did for each command.' },
  {
    key: 'holds',
    events: [EventTypes.holdPlaced],
    key_: 'hold id (a null value releases the hold)',
    description: 'Legal holds, replicated into every service (compacted).',
  },
  {
    key: 'registry',
    events: [EventTypes.serviceRegistered],
    key_: 'service name',
    description: "Each service's manifest: subject types and policies (compacted).",
  },
  { key: 'dlq', events: [EventTypes.deadLetter], key_: 'the original key', description: 'Messages a consumer could not process, with the reason.' },
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
