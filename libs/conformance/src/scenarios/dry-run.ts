import { randomUUID } from 'node:crypto';
import type { Ack } from '@retention/contracts';
import { counts, expectThat, total } from '../kit-context';
import type { Scenario } from './scenario';

export function expectAck(ack: Ack, expected: { commandId?: string; kind: Ack['kind']; dryRun: boolean; status: Ack['status'] }, what: string): void {
  expectThat(ack.status === expected.status, `${what}: acked ${ack.status}${ack.error ? ` (${ack.error.code})` : ''}, expected ${expected.status}`);
  expectThat(ack.kind === expected.kind, `${what}: the ack's kind is ${ack.kind}, expected ${expected.kind}`);
  expectThat(ack.dryRun === expected.dryRun, `${what}: the ack says dryRun ${ack.dryRun}, the command said ${expected.dryRun}`);
  if (expected.commandId) expectThat(ack.commandId === expected.commandId, `${what}: the ack's commandId is not the command's CloudEvent id`);
}

/** A dry run reports what a real run would do and changes nothing (run twice: the same counts; the real run later: the same again). */
export const dryRun: Scenario = {
  name: 'dry-run',
  title: 'dry run: counts reported, nothing changed',
  async run(ctx) {
    const subjectId = ctx.options.subjects[0]!;
    const key = `${ctx.runId}-dry-run`;
    const acks: Ack[] = [];
    for (const n of [1, 2]) {
      const requestId = randomUUID();
      const command = ctx.factory.erasure({ requestId, subjectId, dryRun: true }, key);
      await ctx.publish(command.message);
      const [ack] = await ctx.awaitAcks(requestId, 1, `dry-run erasure ${n}`);
      expectAck(ack!, { commandId: command.eventId, kind: 'erasure', dryRun: true, status: 'completed' }, `dry-run erasure ${n}`);
      acks.push(ack!);
    }
    const [first, second] = acks as [Ack, Ack];
    const matched = total(first.tables, 'matched');
    expectThat(
      matched > 0,
      `the dry run matched no row: the first --subject must have rows in a table the manifest lists for "${ctx.options.subjectType}" (or the implementation does not find them)`,
    );
    expectThat(
      counts(second.tables) === counts(first.tables),
      `a second dry run counts differently (${counts(second.tables)} after ${counts(first.tables)}): the first changed something`,
    );
    ctx.state.dryRun = { subjectId, tables: first.tables };

    const sweepId = randomUUID();
    const sweep = ctx.factory.drySweep(sweepId, key);
    await ctx.publish(sweep.message);
    const [sweepAck] = await ctx.awaitAcks(sweepId, 1, 'a dry-run sweep');
    expectAck(sweepAck!, { commandId: sweep.eventId, kind: 'sweep', dryRun: true, status: 'completed' }, 'the dry-run sweep');
    return `${matched} row(s) matched in ${first.tables.length} table(s), the same counts twice; a dry-run sweep acked completed (${sweepAck!.tables.length} table(s))`;
  },
};
