import { encodeEvent, EventTypes, holdSubjectAad, sealWith, type TopicNames } from '@retention/contracts';
import type { OutgoingMessage } from '@retention/kafka';
import type { CommandKeyHandle } from './command-keys';

/** What the holds topic says of a hold (2.x): the subject id sealed, the reason as its HMAC only. */
export interface HoldForTopic {
  id: string;
  scope: 'subject' | 'policy' | 'record';
  subjectType: string | null;
  subjectId: string | null;
  service: string | null;
  policy: string | null;
  table: string | null;
  recordKey: string | null;
  reasonRef: string;
  placedBy: string;
  placedAt: Date;
  expiresAt: Date | null;
}

export function holdMessage(topics: TopicNames, hold: HoldForTopic, key: CommandKeyHandle): OutgoingMessage {
  const { value } = encodeEvent(
    EventTypes.holdPlaced,
    {
      holdId: hold.id,
      scope: hold.scope,
      ...(hold.subjectType && hold.subjectId
        ? { subject: { type: hold.subjectType, sealedId: sealWith(key, hold.subjectId, holdSubjectAad(hold.id, hold.subjectType)) } }
        : {}),
      ...(hold.service ? { service: hold.service } : {}),
      ...(hold.policy ? { policy: hold.policy } : {}),
      ...(hold.table ? { table: hold.table } : {}),
      ...(hold.recordKey ? { recordKey: hold.recordKey } : {}),
      reasonRef: hold.reasonRef,
      placedBy: hold.placedBy,
      placedAt: new Date(hold.placedAt).toISOString(),
      ...(hold.expiresAt ? { expiresAt: new Date(hold.expiresAt).toISOString() } : {}),
    },
    { source: '/retention/coordinator', time: new Date(hold.placedAt) },
  );
  return { topic: topics.holds, key: hold.id, value };
}
