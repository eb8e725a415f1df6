import { emailMaskStrategy } from './email-mask.strategy';
import { hashStrategy } from './hash.strategy';
import { nullStrategy } from './null.strategy';
import { randomStrategy } from './random.strategy';
import { redactStrategy } from './redact.strategy';
import type { AnonymizationStrategy } from './strategy';
import { surrogateStrategy } from './surrogate.strategy';
import { yearOnlyStrategy } from './year-only.strategy';

export * from './strategy';

/** Every strategy a policy may name. Add one: a file here and one line below. */
export const strategies = {
  null: nullStrategy,
  redact: redactStrategy,
  hash: hashStrategy,
  email_mask: emailMaskStrategy,
  year_only: yearOnlyStrategy,
  random: randomStrategy,
  surrogate: surrogateStrategy,
} as const satisfies Record<string, AnonymizationStrategy<never>>;

export type StrategyName = keyof typeof strategies;
export const strategyNames = Object.keys(strategies) as StrategyName[];
