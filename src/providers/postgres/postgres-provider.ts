import type { Logger } from '../../logger.js';
import { problems } from '../../problem.js';
import type { PostgresTemplate } from '../templates.js';
import type { IssueInput, PostgresCredential, Provider, RevokeInput } from '../types.js';
import { dropRole, takeRoleLock } from './drop-role.js';
import {
  assertGranted,
  assertGrantShape,
  createGroup,
  groupRoleFor,
  membershipSql,
  missingPrivilegesQuery,
  readIssueState,
} from './grants.js';
import { assertRoleIsPlain, issueRolePipelined, plainnessQuery } from './issue-role.js';
import { reconcileOrphanRoles } from './orphan-roles.js';
import { generatePassword, scramSha256Verifier } from './password.js';
import {
  alterLoginSql,
  createRoleSql,
  DEFAULT_ROLE_PREFIX,
  type LoginSpec,
  leaseIdOfRole,
  ROLE_PREFIX,
  roleNameFor,
} from './role-sql.js';
import { type PgGrant, readCeiling, scopePostgresIntent } from './scope.js';
import {
  createTargetConnections,
  type TargetEndpoint,
  targetProblem,
  targetUrlVariable,
} from './target-connections.js';

export interface PostgresProviderOptions {
  /** TARGET_<NAME>_URL by lower-cased NAME (Config.targetUrls): admin connections, never from policy. */
  targetUrls: Record<string, string>;
  logger: Logger;
  /** Admin connections per target (default 2). */
  poolSize?: number;
  /**
   * Prefix of every role this broker creates (default `jit_`). The orphan sweep drops prefixed
   * roles without a live lease, so two brokers sharing a PostgreSQL cluster need distinct prefixes.
   */
  rolePrefix?: string;
}

/** What revoke() needs, stored on the lease. Never the password. */
export type PgRevocation = { target: string; role: string; database: string };

/** What issue() and renew() return: the Provider contract, with the postgres shapes. */
export type PostgresIssued = { credential: PostgresCredential; revocation: PgRevocation };

export type PostgresProvider = Omit<Provider<PostgresTemplate, PgGrant>, 'issue' | 'renew'> & {
  issue(input: IssueInput<PostgresTemplate, PgGrant>): Promise<PostgresIssued>;
  renew(
    input: IssueInput<PostgresTemplate, PgGrant> & { revocation: Record<string, unknown> | undefined },
  ): Promise<PostgresIssued>;
  /** Lease ids that have a role on `target` (for the orphan sweep). */
  listBrokerRoles(target: string): Promise<string[]>;
  close(): Promise<void>;
};

export function createPostgresProvider(options: PostgresProviderOptions): PostgresProvider {
  const prefix = options.rolePrefix ?? DEFAULT_ROLE_PREFIX;
  if (!ROLE_PREFIX.test(prefix))
    throw new TypeError('createPostgresProvider: rolePrefix must match /^[a-z_][a-z0-9_]{0,30}$/');
  const poolSize = options.poolSize ?? 2;
  if (!Number.isInteger(poolSize) || poolSize < 1)
    throw new TypeError('createPostgresProvider: poolSize must be a positive integer');
  const connections = createTargetConnections(options.targetUrls, poolSize);
  const log = options.logger.child({ component: 'provider.postgres' });

  /** current_database() and server_version_num of each target's admin URL, read once. */
  const targetInfo = new Map<string, Promise<{ database: string; version: number }>>();
  function infoOf(target: string): Promise<{ database: string; version: number }> {
    let info = targetInfo.get(target);
    if (info === undefined) {
      info = connections.pool(target)<{ database: string; version: number }[]>`
        select current_database() as database, current_setting('server_version_num')::int as version`.then(
        (rows) => rows[0]!,
      );
      info.catch(() => targetInfo.delete(target));
      targetInfo.set(target, info);
    }
    return info;
  }

  /** The role of a lease: the stored name when it is this lease's, never an arbitrary role. */
  function roleOf(leaseId: string, revocation: Record<string, unknown> | undefined): string {
    const stored = revocation?.role;
    if (typeof stored !== 'string') return roleNameFor(prefix, leaseId);
    const storedPrefix = stored.slice(0, Math.max(0, stored.length - 32));
    if (!ROLE_PREFIX.test(storedPrefix) || leaseIdOfRole(storedPrefix, stored) !== leaseId.toLowerCase()) {
      throw new TypeError(`lease ${leaseId}: stored role "${stored}" is not this lease's role`);
    }
    return stored;
  }

  /** Creates or re-keys the role in one transaction on the target; returns the credential. */
  async function login(
    input: IssueInput<PostgresTemplate, PgGrant>,
    role: string,
    mode: 'issue' | 'renew',
  ): Promise<PostgresIssued> {
    const { template, leaseId, expiresAt } = input;
    const target = template.target;
    assertGrantShape(input.grant);
    const pool = connections.pool(target);
    const endpoint = connections.endpoint(target);
    const password = generatePassword();
    const spec: LoginSpec = {
      role,
      verifier: await scramSha256Verifier(password),
      validUntil: expiresAt,
      connectionLimit: template.connection_limit,
    };
    try {
      const info = await infoOf(target);
      const group = groupRoleFor(prefix, info.database, input.grant);
      const pipelined =
        mode === 'issue'
          ? await issueRolePipelined(pool, {
              target,
              prefix,
              role,
              group,
              grant: input.grant,
              spec,
              serverVersion: info.version,
            })
          : undefined;
      const { database, replay } =
        pipelined !== undefined
          ? { database: pipelined, replay: false }
          : await pool.begin(async (tx) => {
              // Two replicas replaying the same lease must not race CREATE ROLE, nor a revocation.
              await takeRoleLock(tx, role);
              const state = await readIssueState(tx, role, group, input.grant);
              const existing = state.canLogin !== undefined;
              if (!existing && mode === 'renew') {
                throw problems.conflict(
                  `the role of lease ${leaseId} no longer exists on target database "${target}"`,
                );
              }
              // Only revocation sets NOLOGIN, and revocation is one-way.
              if (state.canLogin === false) {
                throw problems.conflict(`lease ${leaseId} is being revoked on target database "${target}"`);
              }
              if (mode === 'issue' && state.missingTables.length > 0) {
                throw problems.badGateway(
                  `table ${state.missingTables.join(', ')} does not exist on target database "${target}"`,
                  { extensions: { target } },
                );
              }
              if (mode === 'issue' && !state.groupExists) await createGroup(tx, group, input.grant);
              // The rest goes out in one round trip: postgres.js pipelines a transaction's queries, in
              // the order they are first awaited (so only unstarted queries here, no async helpers). A
              // renewal keeps the membership the lease was issued with.
              const [, , missing, plain] = await Promise.all([
                tx.unsafe(existing ? alterLoginSql(spec) : createRoleSql(spec)),
                mode === 'issue' ? tx.unsafe(membershipSql(group, role, state.version)) : undefined,
                mode === 'issue' ? missingPrivilegesQuery(tx, role, input.grant) : [],
                plainnessQuery(tx, role),
              ]);
              assertRoleIsPlain(target, prefix, role, mode === 'issue' ? group : undefined, plain[0]);
              if (mode === 'issue') {
                const phrases = missing.map((m) => m.what);
                await assertGranted(tx, target, group, role, input.grant, phrases);
              }
              return { database: state.database, replay: existing };
            });
      log.info(
        {
          leaseId,
          target,
          role,
          database,
          replay,
          privileges: input.grant.privileges,
          tables: input.grant.tables.length,
          expiresAt,
        },
        mode === 'issue' ? 'postgres role issued' : 'postgres role renewed',
      );
      const revocation: PgRevocation = { target, role, database };
      return { credential: credentialFor(endpoint, role, password, database, expiresAt), revocation };
    } catch (error) {
      throw targetProblem(target, error);
    }
  }

  /** Targets a revocation must visit: the recorded one, else the template's, else every target. */
  function targetsOf(input: RevokeInput): string[] {
    const recorded = input.revocation?.target;
    if (typeof recorded === 'string') return [recorded];
    if (input.template?.provider === 'postgres') return [input.template.target];
    // Role names are unique per lease id, so looking on every target cannot touch another lease.
    return [...connections.targets];
  }

  return {
    kind: 'postgres',
    sideEffectFree: false,

    checkTemplate(template) {
      const found: string[] = [];
      if (options.targetUrls[template.target] === undefined) {
        found.push(`target "${template.target}" needs ${targetUrlVariable(template.target)} to be set`);
      }
      found.push(...readCeiling(template).problems);
      return found;
    },

    scope: scopePostgresIntent,

    async issue(input) {
      return login(input, roleNameFor(prefix, input.leaseId), 'issue');
    },

    async renew(input) {
      // A fresh password comes with the new VALID UNTIL: the broker keeps no secret to hand back,
      // and open sessions are unaffected.
      return login(input, roleOf(input.leaseId, input.revocation), 'renew');
    },

    async revoke(input) {
      const role = roleOf(input.leaseId, input.revocation);
      for (const target of targetsOf(input)) {
        try {
          const outcome = await dropRole(connections.pool(target), role);
          if (outcome.existed) {
            log.info(
              { leaseId: input.leaseId, target, role, sessionsTerminated: outcome.sessionsTerminated },
              'postgres role dropped',
            );
          } else {
            log.debug({ leaseId: input.leaseId, target, role }, 'postgres role already gone');
          }
        } catch (error) {
          throw targetProblem(target, error);
        }
      }
    },

    async listBrokerRoles(target) {
      try {
        const rows = await connections.pool(target)<{ rolname: string }[]>`
          select rolname from pg_roles where left(rolname, ${prefix.length}::int) = ${prefix} order by rolname`;
        return rows
          .map((r) => leaseIdOfRole(prefix, r.rolname))
          .filter((id): id is string => id !== undefined);
      } catch (error) {
        throw targetProblem(target, error);
      }
    },

    reconcile(ended) {
      return reconcileOrphanRoles(
        {
          targets: Object.keys(options.targetUrls),
          listBrokerRoles: (target) => this.listBrokerRoles(target),
          revoke: (input) => this.revoke(input),
          logger: log,
        },
        ended,
      );
    },

    close: () => connections.close(),
  };
}

function credentialFor(
  endpoint: TargetEndpoint,
  role: string,
  password: string,
  database: string,
  expiresAt: Date,
): PostgresCredential {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  const query = endpoint.sslmode === undefined ? '' : `?sslmode=${encodeURIComponent(endpoint.sslmode)}`;
  const userinfo = `${encodeURIComponent(role)}:${encodeURIComponent(password)}`;
  const url = `postgres://${userinfo}@${host}:${endpoint.port}/${encodeURIComponent(database)}${query}`;
  return {
    type: 'postgres',
    username: role,
    password,
    host: endpoint.host,
    port: endpoint.port,
    database,
    url,
    expires_at: expiresAt.toISOString(),
  };
}

// The narrower shapes must still be a Provider, so the registry accepts this one unchanged.
const _isProvider: (p: PostgresProvider) => Provider<PostgresTemplate, PgGrant> = (p) => p;
