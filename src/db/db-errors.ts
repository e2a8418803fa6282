// Which driver errors mean the database is unreachable or too busy to answer: both are a 503
// the client may retry, and an unreachable database is what src/db/health.ts probes for.
// postgres.js error codes for a connection that could not be made or was lost, and the SQLSTATE
// classes of an unavailable server: a database outage is a 503 that heals by itself.
const DB_UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  // src/db/health.ts: a probe found the database down; the query was not even tried.
  'DATABASE_UNREACHABLE',
  'DATABASE_WAIT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

// lock_timeout and statement_timeout (src/db/client.ts): the database is up but could not answer
// in time (a held lock, an overloaded server). Also a 503 the client may retry.
const DB_BUSY_CODES = new Set(['55P03', '57014']);

function hasCode(error: unknown, codes: (code: string) => boolean): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && codes(code)) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => hasCode(inner, codes))) return true;
  }
  return false;
}

export function isDatabaseBusy(error: unknown): boolean {
  return hasCode(error, (code) => DB_BUSY_CODES.has(code));
}

export function isDatabaseUnavailable(error: unknown): boolean {
  return hasCode(error, (code) => DB_UNAVAILABLE_CODES.has(code) || code.startsWith('08'));
}
