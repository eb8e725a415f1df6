import { type AnonymizationStrategy, fitLength, requireText } from './strategy';

/** Replaces the value with 16 random hex characters (unique-looking, unlinkable). */
export const randomStrategy: AnonymizationStrategy = {
  name: 'random',
  check: requireText,
  expression: (col, c) => `CASE WHEN ${col} IS NULL THEN NULL ELSE ${fitLength(`substr(md5(random()::text || clock_timestamp()::text), 1, 16)`, c)} END`,
};
