import { randomUUID } from 'node:crypto';
import { changed, expectThat, total } from '../kit-context';
import { ScenarioFailure } from '../options';
import { expectAck } from './dry-run';
import type { Scenario } from './scenario';

/**
 * A subject hold placed on the holds topic (not listed in the command: the replica must have it),
 * then an erasure of that subject: acked `held`, naming the hold, with the kept rows counted and
 * none changed. Released (tombstone), the coordinator's re-issue of the erasure completes.
 */
export const legalHold: Scenario = {
  name: 'legal-hold',
  title: 'legal hold: held rows kept, ack says held with counts; applied after release',
  async run(ctx) {
    const subjectId = ctx.options.subjects[1]!;
    const key = `${ctx.runId}-hold`;
    const holdId = randomUUID();
    const requestId = randomUUID();
    await ctx.publish(ctx.factory.hold(holdId, subjectId));
    let released = false;
    try {
      const first = ctx.factory.erasure({ requestId, subjectId, dryRun: false }, key);
      await ctx.publish(first.message);
      const [held] = await ctx.awaitAcks(requestId, 1, 'an erasure of a held subject');
      expectAck(held!, { commandId: first.eventId, kind: 'erasure', dryRun: false, status: 'held' }, 'the erasure of a held subject');
      expectThat(held!.holdIds.includes(holdId), `the held ack names holds [${held!.holdIds.join(', ')}], not the hold placed`);
      expectThat(total(held!.tables, 'held') > 0, 'the held ack counts no kept row (tables[].held): the second --subject must have rows');
      expectThat(changed(held!.tables) === 0, `rows of a subject under a hold were changed (${changed(held!.tables)})`);

      await ctx.publish(ctx.factory.release(holdId));
      released = true;
      // As the coordinator does when the hold ends: the same request again, a new CloudEvent id. A
      // service that has not yet read the release may ack held once more; it is sent again then.
      const deadline = Date.now() + ctx.options.timeoutMs;
      for (let attempt = 2, seen = 1; ; attempt++) {
        const again = ctx.factory.erasure({ requestId, subjectId, dryRun: false, attempt }, key);
        await ctx.publish(again.message);
        const ack = (await ctx.awaitAcks(requestId, ++seen, 'the erasure re-issued after the release'))[seen - 1]!;
        if (ack.status === 'completed') {
          expectThat(changed(ack.tables) > 0, 'the erasure completed after the release but changed no row');
          return `held with ${total(held!.tables, 'held')} row(s) kept and none changed; after the release the re-issued erasure completed (${changed(ack.tables)} row(s))`;
        }
        if (ack.status !== 'held' || Date.now() > deadline) {
          throw new ScenarioFailure(
            `after the release the re-issued erasure was acked ${ack.status}${ack.error ? ` (${ack.error.code})` : ''}, expected completed`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    } finally {
      if (!released) await ctx.publish(ctx.factory.release(holdId)).catch(() => undefined);
    }
  },
};
