// The forgeries of someone who can write to the audit table but does not hold BROKER_MASTER_KEY:
// a row slipped in unsealed, a row sealed with a hash recomputed by hand, a whole tail recomputed
// after an edit, and a tail cut off. Each is detected: refused by the sealer with an error line and
// a metric, or reported by verification (against a signed checkpoint for the truncation).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { canonicalJson, GENESIS_HASH } from '../../src/audit/audit-log.js';
import { auditColumns, parseAuditRows, type StoredAuditRow } from '../../src/audit/audit-rows.js';
import { credentialRequest, startTestBroker, type TestBroker } from '../helpers/broker.js';

let t: TestBroker;
let staffToken: string;

beforeAll(async () => {
  t = await startTestBroker();
  staffToken = await t.staffToken('auditor@example.com');
});
afterAll(async () => {
  await t?.close();
});

beforeEach(async () => {
  await t.database.sql`truncate audit_events restart identity`;
  // Genuine history: ten credentials (a decision and an issue row each), sealed by the sweeper.
  const token = await t.agentToken('agent-audited');
  for (let i = 0; i < 10; i++) {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { task_id: `t-${i}` }),
    });
    expect(res.status).toBe(201);
  }
  await t.broker.sweeper.sweep();
  expect((await verify()).body).toMatchObject({ ok: true, refused: 0, unsealed: 0 });
});

const verify = (checkpoint?: string) =>
  t.request('GET', `/v1/audit/verify${checkpoint ? `?checkpoint=${encodeURIComponent(checkpoint)}` : ''}`, {
    token: staffToken,
  });

async function sealed(): Promise<(StoredAuditRow & { seq: number })[]> {
  return parseAuditRows(
    await t.database
      .sql`select ${auditColumns(t.database.sql)} from audit_events a where a.seq is not null order by a.seq`,
  ) as (StoredAuditRow & { seq: number })[];
}

/** The chain as anyone without the key would compute it: sha256 over prev and the content. */
function keylessHash(prev: string, row: StoredAuditRow): string {
  const { seq: _s, prev_hash: _p, hash: _h, sub_ms: _m, ...content } = row;
  return createHash('sha256').update(prev).update(canonicalJson(content)).digest('hex');
}

function errorLines(pattern: RegExp): Record<string, unknown>[] {
  return t.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => (l.level as number) >= 50 && pattern.test(String(l.msg)));
}

async function metric(name: string): Promise<number> {
  const text = await t.broker.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? 0);
}

describe('forgeries by someone with write access to audit_events but not the key', () => {
  test('a row inserted with seq NULL is refused by the sealer, reported, and never sealed', async () => {
    const refusedBefore = await metric('jit_broker_audit_rows_refused_total');
    const logsBefore = errorLines(/refused by the sealer/).length;
    const [row] = await t.database.sql<{ id: string }[]>`
      insert into audit_events (at, event, actor, decision, detail)
      values (now(), 'approval.approved', 'staff:mallory', 'allow', '{"note":"looks legit"}')
      returning id::text as id`;
    // Even a MAC copied from a genuine row does not make it verify (the MAC covers the content).
    const [genuine] = await t.database.sql<{ mac: string }[]>`select mac from audit_events where seq = 1`;
    await t.database.sql`
      insert into audit_events (at, event, actor, decision, mac)
      values (now(), 'approval.approved', 'staff:mallory', 'allow', ${`${genuine!.mac.slice(0, -4)}AAAA`})`;

    await t.broker.sweeper.sweep();

    const [after] = await t.database.sql<{ seq: string | null; refused_at: Date | null }[]>`
      select seq, refused_at from audit_events where id = ${row!.id}`;
    expect(after!.seq).toBeNull();
    expect(after!.refused_at).not.toBeNull();
    expect(await metric('jit_broker_audit_rows_refused_total')).toBe(refusedBefore + 2);
    expect(errorLines(/refused by the sealer/).length).toBe(logsBefore + 2);
    const res = await verify();
    expect(res.body).toMatchObject({ ok: true, refused: 2, checked: 20 });
  });

  test('a row sealed by hand with a recomputed hash does not verify', async () => {
    const rows = await sealed();
    const head = rows.at(-1)!;
    const forged = {
      ...head,
      id: head.id + 1000,
      seq: head.seq + 1,
      event: 'approval.approved',
      actor: 'staff:mallory',
      mac: null,
    };
    await t.database.sql`
      insert into audit_events (id, at, event, actor, seq, prev_hash, hash)
      values (${forged.id}, ${forged.at}::timestamptz, ${forged.event}, ${forged.actor}, ${forged.seq}, ${head.hash},
              ${keylessHash(head.hash!, { ...forged, detail: null } as StoredAuditRow)})`;
    const res = await verify();
    expect(res.body).toMatchObject({
      ok: false,
      first_bad: { seq: forged.seq, problem: /without a MAC inside the keyed chain/ },
    });
    expect(await metric('jit_broker_audit_chain_broken')).toBe(1);
    expect(errorLines(/audit chain does not verify/).length).toBeGreaterThan(0);
  });

  test('a tail recomputed after an edit does not verify, at the edited row', async () => {
    const rows = await sealed();
    const from = 5;
    await t.database
      .sql`update audit_events set decision = 'deny', reasons = '["forged"]'::jsonb where seq = ${from}`;
    // Recompute every link from the edited row on, as anyone without the key can.
    let prev = rows[from - 2]!.hash!;
    for (const row of await sealed()) {
      if (row.seq < from) continue;
      const hash = keylessHash(prev, row);
      await t.database
        .sql`update audit_events set prev_hash = ${prev}, hash = ${hash} where seq = ${row.seq}`;
      prev = hash;
    }
    const res = await verify();
    expect(res.body).toMatchObject({
      ok: false,
      checked: from - 1,
      first_bad: { seq: from, problem: /MAC does not match/ },
    });
  });

  test('a truncated tail is detected against an earlier signed checkpoint', async () => {
    const cp = await t.request('GET', '/v1/audit/checkpoint', { token: staffToken });
    expect(cp.status, cp.text).toBe(200);
    expect(cp.body).toMatchObject({
      seq: 20,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      checkpoint: expect.any(String),
    });
    expect((await verify(cp.body.checkpoint)).body).toMatchObject({ ok: true, checked: 20 });

    await t.database.sql`delete from audit_events where seq > 15`;
    // Without a checkpoint the shorter chain is self-consistent: that is what checkpoints are for.
    expect((await verify()).body).toMatchObject({ ok: true, checked: 15 });
    const res = await verify(cp.body.checkpoint);
    expect(res.body).toMatchObject({
      ok: false,
      first_bad: { seq: 20, problem: /before the checkpoint's seq 20: rows deleted from the tail/ },
    });
  });

  test('a tail rewritten behind a checkpoint is detected at the checkpoint', async () => {
    const cp = await t.request('GET', '/v1/audit/checkpoint', { token: staffToken });
    await t.database.sql`update audit_events set hash = ${GENESIS_HASH.replace(/0/g, 'a')} where seq = 20`;
    const res = await verify(cp.body.checkpoint);
    expect(res.body.ok).toBe(false);
  });

  test('a checkpoint the broker did not sign is refused with a 400 naming the parameter', async () => {
    const cp = await t.request('GET', '/v1/audit/checkpoint', { token: staffToken });
    const [h, p, s] = (cp.body.checkpoint as string).split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, seq: 3 })).toString('base64url')}.${s}`;
    const res = await verify(tampered);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'query.checkpoint', message: expect.any(String) }]);
  });

  test('the checkpoint is staff-only, like the rest of /v1/audit', async () => {
    expect((await t.request('GET', '/v1/audit/checkpoint')).status).toBe(401);
    // A valid workload token is an agent reaching for a reviewer's power: 403.
    const agent = await t.agentToken('agent-audited');
    expect((await t.request('GET', '/v1/audit/checkpoint', { token: agent })).status).toBe(403);
  });
});
