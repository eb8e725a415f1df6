import type { KitContext } from '../kit-context';
import { type ScenarioName, ScenarioFailure } from '../options';

/** One thing an implementation must get right. `run` returns what it saw, or throws a ScenarioFailure saying what is wrong. */
export interface Scenario {
  name: ScenarioName;
  title: string;
  run(ctx: KitContext): Promise<string>;
}

/** A command after bad ones on the same key (so the same partition): acked only if the partition is not wedged. */
export async function expectNotWedged(ctx: KitContext, key: string, after: string): Promise<void> {
  const requestId = crypto.randomUUID();
  const follow = ctx.factory.drySweep(requestId, key);
  await ctx.publish(follow.message);
  try {
    await ctx.awaitAcks(requestId, 1, `a dry-run sweep sent after ${after}`);
  } catch (error) {
    throw new ScenarioFailure(`the partition is wedged: a valid command sent after ${after} on the same key was not acked (${(error as Error).message})`);
  }
}
