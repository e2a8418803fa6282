// Admin connections to the target databases: one small pool per TARGET_<NAME>_URL, opened on first
// use, and the mapping of target failures to problems (unreachable → 503, anything else → 502).
import postgres from 'postgres';
import { reconnectBackoff } from '../../db/client.js';
import { Problem, problems } from '../../problem.js';

/** Where clients of a target connect: taken from its admin URL, never from a policy file. */
export interface TargetEndpoint {
  host: string;
  port: number;
  /** Kept for the ready-made URL, so a target that requires TLS gets clients that use it. */
  sslmode: string | undefined;
}

export interface TargetConnections {
  /** The target's admin pool; a Problem when the target has no URL. */
  pool(target: string): postgres.Sql;
  endpoint(target: string): TargetEndpoint;
  /** Targets that have a URL, whether or not a pool is open. */
  readonly targets: readonly string[];
  close(): Promise<void>;
}

export function targetUrlVariable(target: string): string {
  return `TARGET_${target.toUpperCase()}_URL`;
}

export function createTargetConnections(
  targetUrls: Record<string, string>,
  poolSize: number,
): TargetConnections {
  const pools = new Map<string, postgres.Sql>();
  const urlOf = (target: string): string => {
    const url = targetUrls[target];
    // The detail names the variable, never its value: the URL holds the admin password.
    if (url === undefined)
      throw problems.unavailable(
        `target database "${target}" is not configured (${targetUrlVariable(target)})`,
      );
    return url;
  };
  return {
    targets: Object.keys(targetUrls),
    pool(target) {
      let pool = pools.get(target);
      if (pool === undefined) {
        pool = postgres(urlOf(target), {
          max: poolSize,
          idle_timeout: 30,
          connect_timeout: 5,
          backoff: reconnectBackoff,
          // The fixed catalog queries (role state, privilege checks) are prepared once per
          // connection: planning them on every issuance took about a quarter of the target's time.
          // DDL (CREATE ROLE, GRANT), whose text is unique every time, goes through sql.unsafe(),
          // which postgres.js never prepares, so the statement cache does not grow with leases.
          prepare: true,
          onnotice: () => {},
          connection: {
            application_name: 'jit-broker',
            // A GRANT queued behind a long migration lock fails fast (503) instead of hanging.
            lock_timeout: 10_000,
            statement_timeout: 30_000,
          },
        });
        pools.set(target, pool);
      }
      return pool;
    },
    endpoint(target) {
      const url = new URL(urlOf(target));
      return {
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port === '' ? 5432 : Number(url.port),
        sslmode: url.searchParams.get('sslmode') ?? undefined,
      };
    },
    async close() {
      const open = [...pools.values()];
      pools.clear();
      await Promise.all(open.map((pool) => pool.end({ timeout: 5 })));
    },
  };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/**
 * SQLSTATEs that mean "cannot use the target right now" rather than "the target refused this":
 * connection exceptions (08), the admin's authentication (28), the admin's database missing
 * (3D000), too many connections (53300), shutdown or start-up (57P01-57P03), lock and statement
 * timeouts (55P03, 57014).
 */
function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (
      /^(08|28)/.test(code) ||
      ['3D000', '53300', '57P01', '57P02', '57P03', '55P03', '57014'].includes(code)
    )
      return true;
  }
  // Node reports a host with several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  const nested = (error as { errors?: unknown }).errors;
  return Array.isArray(nested) && nested.some(isUnavailable);
}

export function sqlState(error: unknown): string | undefined {
  if (error instanceof postgres.PostgresError) return error.code;
  return undefined;
}

/** The problem a failed target operation becomes; the original error travels as `cause` (logged only). */
export function targetProblem(target: string, error: unknown): Problem {
  if (error instanceof Problem) return error;
  if (isUnavailable(error))
    return problems.unavailable(`target database "${target}" is unreachable`, {
      retryAfterSeconds: 5,
      cause: error,
    });
  const state = sqlState(error);
  return problems.badGateway(
    `target database "${target}" failed the operation${state === undefined ? '' : ` (SQLSTATE ${state})`}`,
    { extensions: { target }, cause: error },
  );
}
