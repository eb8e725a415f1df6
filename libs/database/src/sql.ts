/** Quotes a PostgreSQL identifier. Identifiers come from validated metadata; this is the second line of defence. */
export function quoteIdent(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
