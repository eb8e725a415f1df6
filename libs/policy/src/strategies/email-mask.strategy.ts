import { DEFAULT_REDACTION } from './redact.strategy';
import { type AnonymizationStrategy, fitLength, requireText } from './strategy';

/** `jane@example.com` → `redacted@example.com`: keeps the domain for statistics, loses the person. */
export const emailMaskStrategy: AnonymizationStrategy = {
  name: 'email_mask',
  check: requireText,
  expression: (col, c, ctx) =>
    `CASE WHEN ${col} IS NULL THEN NULL WHEN position('@' in ${col}) > 0 THEN ${fitLength(`'redacted@' || split_part(${col}, '@', 2)`, c)} ELSE ${fitLength(`${ctx.bind(DEFAULT_REDACTION)}::text`, c)} END`,
};
