import type { KitContext, ObservedDeadLetter } from '../kit-context';
import { expectThat } from '../kit-context';

/** How long dead letters may trail the ack of a later command on the same partition. */
const GRACE_MS = 5_000;

/**
 * The implementation's dead letters of the messages keyed `key`: as many as `expected`, with those
 * reason codes (in any order: each may be written to its own partition), the reason header equal
 * to the code, and never the message's bytes.
 */
export async function expectDeadLetters(ctx: KitContext, key: string, expected: readonly string[], what: string): Promise<ObservedDeadLetter[]> {
  const letters = await ctx.awaitDeadLetters(key, expected.length, Math.min(GRACE_MS, ctx.options.timeoutMs));
  const codes = letters.map((l) => l.code).sort();
  expectThat(
    letters.length === expected.length && JSON.stringify(codes) === JSON.stringify([...expected].sort()),
    `${what}: expected ${expected.length} dead letter(s) by "${ctx.options.service}" with reasons ${expected.join(', ')} on ${ctx.topics.dlq}, found ${letters.length ? codes.join(', ') : 'none'}`,
  );
  for (const letter of letters) {
    expectThat(
      letter.header === letter.code,
      `${what}: a dead letter's x-retention-dlq-reason header is "${letter.header ?? ''}", its reason.code "${letter.code}"`,
    );
    expectThat(letter.data.payload === null, `${what}: a dead letter copies the message's bytes into payload (it must be null: they may hold personal data)`);
  }
  return letters;
}
