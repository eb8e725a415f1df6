import { randomUUID } from 'node:crypto';
import { expectThat } from '../kit-context';
import { expectDeadLetters } from './dead-letters';
import { expectNotWedged, type Scenario } from './scenario';

/** A signed command under a major version nobody knows, and one of an unknown type: dead-lettered (unsupported_version), not applied, the partition goes on. */
export const unknownVersion: Scenario = {
  name: 'unknown-version',
  title: 'unknown version: dead-lettered as unsupported_version, partition not wedged',
  async run(ctx) {
    const key = `${ctx.runId}-unknown-version`;
    const requestIds = [randomUUID(), randomUUID()];
    const rewrite = (requestId: string, change: (envelope: Record<string, unknown>) => void): string => {
      const value = ctx.factory.erasure({ requestId, subjectId: ctx.options.subjects[0]!, dryRun: true }, key).message.value!;
      const envelope = JSON.parse(value) as Record<string, unknown>;
      change(envelope);
      return JSON.stringify(envelope);
    };
    const values = [
      rewrite(requestIds[0]!, (e) => (e.dataschema = 'urn:retention:schema:retention.erasure.requested:99.0')),
      rewrite(requestIds[1]!, (e) => {
        e.type = 'retention.erasure.scheduled';
        e.dataschema = 'urn:retention:schema:retention.erasure.scheduled:1.0';
      }),
    ];
    await ctx.publish(...values.map((value) => ({ topic: ctx.topics.commands, key, value, headers: ctx.factory.sign(ctx.topics.commands, key, value) })));
    await expectNotWedged(ctx, key, 'an unknown major version and an unknown type');
    await expectDeadLetters(ctx, key, ['unsupported_version', 'unsupported_version'], 'an unknown major version and an unknown type');
    for (const id of requestIds)
      expectThat(ctx.acksSoFar(id).length === 0, 'a command of an unknown version or type was acked: it must be dead-lettered, not guessed at');
    return 'both dead-lettered as unsupported_version, neither acked; a later command on the same partition was acked';
  },
};
