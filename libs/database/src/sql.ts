/** Quotes a PostgreSQL identifier. Identifiers come from validated metadata; this is the second line of defence. */
export function quoteIdent(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** PostgreSQL accepts at most 65,535 bound parameters per statement. */
export const MAX_BIND_PARAMETERS = 65_535;

/** Splits `items` so that each chunk binds at most `parametersPerItem * size` parameters. */
export function chunkForParameters<T>(items: readonly T[], parametersPerItem: number, limit = MAX_BIND_PARAMETERS): T[][] {
  const size = Math.max(1, Math.floor(limit / Math.max(1, parametersPerItem)));
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
