// Keyset cursors for newest-first lists: base64url("<created_at ms>:<id>"), so paging is stable
// while rows arrive. Decoding is strict: a forged cursor is refused, never a cast error in SQL.
import { UUID_PATTERN } from './ids.js';

export interface Keyset {
  at: Date;
  id: string;
}

const CURSOR = /^(\d{1,15}):([0-9a-f-]{36})$/i;

export function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(`${row.createdAt.getTime()}:${row.id}`).toString('base64url');
}

/** The position a cursor names, or undefined when it is not a cursor this broker made. */
export function decodeCursor(cursor: string): Keyset | undefined {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || !UUID_PATTERN.test(match[2]!)) return undefined;
  return { at: new Date(Number(match[1])), id: match[2]!.toLowerCase() };
}
