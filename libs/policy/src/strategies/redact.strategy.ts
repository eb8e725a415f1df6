import { type AnonymizationStrategy, fitLength, requireText } from './strategy';

export const DEFAULT_REDACTION = '[redacted]';

/** Replaces the value with a fixed text (`[redacted]` unless the policy names another). */
export const redactStrategy: AnonymizationStrategy<{ text?: string }> = {
  name: 'redact',
  check: requireText,
  expression: (col, c, ctx, options) => `CASE WHEN ${col} IS NULL THEN NULL ELSE ${fitLength(`${ctx.bind(options.text ?? DEFAULT_REDACTION)}::text`, c)} END`,
};
