import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { signMessage } from '@retention/contracts';
import { expectThat } from '../kit-context';
import { expectDeadLetters } from './dead-letters';
import { expectNotWedged, type Scenario } from './scenario';

/**
 * Real erasures of the second test subject, each with a bad signature: none, a stranger's key under
 * the coordinator's key id, the coordinator's key two days ago (a replay), an hour ahead. Each
 * dead-lettered with its reason, none applied nor acked (the legal-hold scenario erases that
 * subject later, so a wrongly applied one shows there too).
 */
export const forgedAndStale: Scenario = {
  name: 'forged-and-stale',
  title: 'forged or stale signature: dead-lettered with the reason, nothing applied',
  async run(ctx) {
    const key = `${ctx.runId}-signatures`;
    const topic = ctx.topics.commands;
    const stranger = { keyId: ctx.options.coordinatorKey.keyId, privateKey: generateKeyPairSync('ed25519').privateKey };
    const hour = 3600_000;
    const cases: Array<{ reason: string; headers: (value: string) => Record<string, string> }> = [
      { reason: 'signature_missing', headers: () => ({}) },
      { reason: 'signature_invalid', headers: (value) => signMessage(stranger, { topic, key, value }) },
      { reason: 'signature_stale', headers: (value) => ctx.factory.sign(topic, key, value, new Date(Date.now() - 48 * hour)) },
      { reason: 'signature_from_future', headers: (value) => ctx.factory.sign(topic, key, value, new Date(Date.now() + hour)) },
    ];
    const requestIds: string[] = [];
    for (const c of cases) {
      const requestId = randomUUID();
      requestIds.push(requestId);
      const value = ctx.factory.erasure({ requestId, subjectId: ctx.options.subjects[1]!, dryRun: false }, key).message.value!;
      await ctx.publish({ topic, key, value, headers: c.headers(value) });
    }
    await expectNotWedged(ctx, key, 'badly signed commands');
    await expectDeadLetters(
      ctx,
      key,
      cases.map((c) => c.reason),
      'unsigned, foreign-signed, stale and future-dated commands',
    );
    requestIds.forEach((id, i) => expectThat(ctx.acksSoFar(id).length === 0, `a command with ${cases[i]!.reason} was acked: it must change nothing`));
    return `${cases.map((c) => c.reason).join(', ')}: each dead-lettered, none acked`;
  },
};
