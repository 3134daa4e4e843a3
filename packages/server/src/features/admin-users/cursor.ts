import type { UserSort } from '@gatehouse/protocol';

/** Where a page of the user list ends: the last row's sort key and id (ids break ties). */
export interface UserCursor {
  sort: UserSort;
  key: string | number;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a UUID in the canonical lower-case form ids are stored in. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** The sort key of a sort order: e-mail is text, the times are integers (a missing last access is -1). */
export function keyKind(sort: UserSort): 'text' | 'integer' {
  return sort === 'email' || sort === '-email' ? 'text' : 'integer';
}

/** Opaque to clients: base64url of JSON. The sort order is inside, so a cursor only continues its own list. */
export function encodeCursor(cursor: UserCursor): string {
  return Buffer.from(JSON.stringify([cursor.sort, cursor.key, cursor.id])).toString('base64url');
}

/**
 * Answers the cursor, or null when it was not made by `encodeCursor` for this sort order. Every part is checked
 * before it reaches a query: the id must be a UUID (PostgreSQL would otherwise fail the cast) and the key must
 * have the type of the sort column.
 */
export function decodeCursor(text: string, sort: UserSort): UserCursor | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) return null;
  const [cursorSort, key, id] = parsed as unknown[];
  if (cursorSort !== sort || typeof id !== 'string' || !isUuid(id)) return null;
  if (keyKind(sort) === 'text') {
    if (typeof key !== 'string' || key.length > 254) return null;
  } else if (typeof key !== 'number' || !Number.isSafeInteger(key) || key < -1) {
    return null;
  }
  return { sort, key, id };
}
