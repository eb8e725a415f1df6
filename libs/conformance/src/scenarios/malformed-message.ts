import { randomUUID } from 'node:crypto';
import { expectDeadLetters } from './dead-letters';
import { expectNotWedged, type Scenario } from './scenario';

/**
 * Signed by the coordinator's key (so they reach the decoder) but not valid: not JSON, data that
 * breaks its schema, an envelope field over its limit, a tombstone where the topic has none. Each
 * dead-lettered as validation_failed; the partition goes on.
 */
export const malformedMessage: Scenario = {
  name: 'malformed-message',
  title: 'malformed message: dead-lettered as validation_failed, partition not wedged',
  async run(ctx) {
    const key = `${ctx.runId}-malformed`;
    const valid = JSON.parse(ctx.factory.erasure({ requestId: randomUUID(), subjectId: ctx.options.subjects[0]!, dryRun: true }, key).message.value!) as {
      id: string;
      data: Record<string, unknown>;
    };
    const values: Array<string | null> = [
      '{"specversion":"1.0","id":',
      JSON.stringify({ ...valid, data: { ...valid.data, requestId: 'not-a-uuid' } }),
      JSON.stringify({ ...valid, id: 'x'.repeat(129) }),
      null,
    ];
    await ctx.publish(...values.map((value) => ({ topic: ctx.topics.commands, key, value, headers: ctx.factory.sign(ctx.topics.commands, key, value) })));
    await expectNotWedged(ctx, key, 'malformed messages');
    await expectDeadLetters(
      ctx,
      key,
      values.map(() => 'validation_failed'),
      'malformed messages',
    );
    return 'not JSON, invalid data, an id over 128 characters and a tombstone: each dead-lettered as validation_failed; a later command was acked';
  },
};
