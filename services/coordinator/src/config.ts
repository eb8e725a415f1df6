import { boolFlag, commonEnv, port, postgresUrl } from '@retention/config';
import { z } from 'zod';

const Role = z.enum(['admin', 'requester', 'auditor']);
export type Role = z.infer<typeof Role>;

/** `role:token,role:token`; tokens must be long enough not to be guessed. */
const apiTokens = z
  .string()
  .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
  .pipe(
    z
      .array(
        z
          .string()
          .regex(new RegExp(`^(${Role.options.join('|')}):\\S{16,}$`), `each entry must be role:token with role ${Role.options.join(', ')} and a token of at least 16 characters`)
          .transform((entry) => {
            const i = entry.indexOf(':');
            return { role: entry.slice(0, i) as Role, token: entry.slice(i + 1) };
          }),
      )
      .min(1, 'must contain at least one role:token'),
  );

export const CoordinatorEnv = z.object({
  ...commonEnv,
  DATABASE_URL: postgresUrl,
  DATABASE_AUTO_CREATE: boolFlag.default(false),
  RETENTION_API_TOKENS: apiTokens,
  /** Key of the HMAC that stands for a subject in the ledger. Changing it unlinks past entries. */
  RETENTION_SUBJECT_HMAC_KEY: z.string().min(16, 'must be at least 16 characters'),
  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: port.default(8080),
  /** Days an erasure request may take before it is overdue (GDPR: one month). */
  ERASURE_DEADLINE_DAYS: z.coerce.number().int().min(1).max(90).default(30),
  INSTANCE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
});
export type CoordinatorConfig = z.output<typeof CoordinatorEnv>;
