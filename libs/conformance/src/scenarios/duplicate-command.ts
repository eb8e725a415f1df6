import { randomUUID } from 'node:crypto';
import { changed, counts, expectThat, total } from '../kit-context';
import { expectAck } from './dry-run';
import type { Scenario } from './scenario';

/**
 * A real erasure delivered twice (the same message again) and redelivered by the coordinator (same
 * request, a new CloudEvent id, attempt 2): applied once, every ack the same, and nothing of the
 * subject left afterwards (a dry run of it matches nothing).
 */
export const duplicateCommand: Scenario = {
  name: 'duplicate-command',
  title: 'duplicate command: applied once, acked consistently',
  async run(ctx) {
    const subjectId = ctx.options.subjects[0]!;
    const key = `${ctx.runId}-duplicate`;
    const requestId = randomUUID();
    const first = ctx.factory.erasure({ requestId, subjectId, dryRun: false }, key);
    await ctx.publish(first.message, first.message);
    const [a1, a2] = await ctx.awaitAcks(requestId, 2, 'an erasure delivered twice');
    expectAck(a1!, { commandId: first.eventId, kind: 'erasure', dryRun: false, status: 'completed' }, 'the erasure');
    const rows = changed(a1!.tables);
    expectThat(rows > 0, 'the erasure changed no row (the first --subject must have rows the manifest covers)');
    const dry = ctx.state.dryRun;
    if (dry?.subjectId === subjectId) {
      expectThat(counts(a1!.tables) === counts(dry.tables), `the erasure's counts ${counts(a1!.tables)} differ from its dry run's ${counts(dry.tables)}`);
    }
    expectThat(
      a2!.status === a1!.status && counts(a2!.tables) === counts(a1!.tables),
      `the second delivery was acked ${a2!.status} with ${counts(a2!.tables)}, not as the first (${counts(a1!.tables)}): applied twice?`,
    );

    const again = ctx.factory.erasure({ requestId, subjectId, dryRun: false, attempt: 2 }, key);
    await ctx.publish(again.message);
    const a3 = (await ctx.awaitAcks(requestId, 3, "the coordinator's redelivery"))[2]!;
    expectThat(
      a3.status === 'completed' && counts(a3.tables) === counts(a1!.tables),
      `the redelivery (attempt 2, new CloudEvent id) was acked ${a3.status} with ${counts(a3.tables)}, not as the first`,
    );

    const checkId = randomUUID();
    await ctx.publish(ctx.factory.erasure({ requestId: checkId, subjectId, dryRun: true }, key).message);
    const [check] = await ctx.awaitAcks(checkId, 1, 'a dry run of the erased subject');
    const left = total(check!.tables, 'matched');
    expectThat(left === 0, `a dry run after the completed erasure still matches ${left} row(s): the erasure was acked but not applied`);
    return `applied once (${rows} row(s) changed); the duplicate and the redelivery got the same ack; nothing of the subject left`;
  },
};
