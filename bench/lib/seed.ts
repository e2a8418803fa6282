// Seeds lease rows with COPY, shaped like the rows the broker writes for JWT leases, so scenarios
// can start from 10k, 100k or 1M leases without minting them one by one.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type postgres from 'postgres';

export interface SeedOptions {
  count: number;
  state: 'active';
  template: string;
  agent: (index: number) => string;
  agentIssuer: string;
  taskId: (index: number) => string;
  createdAt: Date;
  expiresAt: (index: number) => Date;
  policyVersion: string;
}

const COLUMNS = [
  'id',
  'state',
  'template',
  'provider',
  'agent',
  'agent_issuer',
  'task_id',
  'intent',
  '"grant"',
  'revocation',
  'policy_version',
  'policies',
  'requested_ttl_seconds',
  'created_at',
  'issued_at',
  'expires_at',
  'max_expires_at',
  'updated_at',
];

/** Text-format COPY fields: the values written here never hold a tab, newline or backslash. */
function line(opts: SeedOptions, index: number): string {
  const id = randomUUID();
  const taskId = opts.taskId(index);
  const created = opts.createdAt.toISOString();
  const expires = opts.expiresAt(index).toISOString();
  const intent = `{"taskId":"${taskId}","purpose":"bench","actions":["reports:read"],"resources":[]}`;
  return [
    id,
    opts.state,
    opts.template,
    'jwt',
    opts.agent(index),
    opts.agentIssuer,
    taskId,
    intent,
    '{"scopes":["reports:read"]}',
    `{"jti":"${id}"}`,
    opts.policyVersion,
    '["reports-agents-mint-reports"]',
    '300',
    created,
    created,
    expires,
    expires,
    created,
  ].join('\t');
}

/** COPYs `count` leases; returns the seconds it took. */
export async function seedLeases(sql: postgres.Sql, opts: SeedOptions): Promise<number> {
  const started = performance.now();
  const chunk = 2000;
  function* rows(): Generator<string> {
    for (let start = 0; start < opts.count; start += chunk) {
      const lines: string[] = [];
      for (let i = start; i < Math.min(opts.count, start + chunk); i++) lines.push(line(opts, i));
      yield `${lines.join('\n')}\n`;
    }
  }
  const writable = await sql.unsafe(`copy leases (${COLUMNS.join(', ')}) from stdin`).writable();
  await pipeline(Readable.from(rows()), writable);
  return (performance.now() - started) / 1000;
}
