/** Where a page of requests (newest first) ends: the last row's creation time and id. */
export interface RequestCursor {
  createdAt: Date;
  id: string;
}

const TEXT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const EARLIEST = Date.UTC(1970, 0, 1);

/** The opaque cursor of the page after `last`. */
export function encodeCursor(last: RequestCursor): string {
  return Buffer.from(`${last.createdAt.toISOString()}|${last.id}`).toString('base64url');
}

/**
 * The cursor `encodeCursor` made, or undefined for anything else: the text must be exactly what
 * it encodes (canonical base64url of an ISO instant in milliseconds, a `|` and a lowercase UUID),
 * so a crafted cursor never reaches SQL ("timestamp out of range", "invalid input syntax for
 * type uuid").
 */
export function decodeCursor(cursor: string): RequestCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined;
  const match = TEXT.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!match) return undefined;
  const createdAt = new Date(match[1]!);
  if (Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== match[1] || createdAt.getTime() < EARLIEST) return undefined;
  const decoded = { createdAt, id: match[2]! };
  return encodeCursor(decoded) === cursor ? decoded : undefined;
}
