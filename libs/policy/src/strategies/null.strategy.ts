import type { AnonymizationStrategy } from './strategy';

/** Sets the column to NULL. */
export const nullStrategy: AnonymizationStrategy = {
  name: 'null',
  check: (c) => (c.nullable ? null : `needs a nullable column, but "${c.name}" is NOT NULL`),
  expression: () => 'NULL',
};
