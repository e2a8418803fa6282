import { afterAll, describe, expect, it } from 'vitest';
import { intent, pgTemplate, providerFor } from '../../helpers/postgres-provider.js';

const { provider } = providerFor({ orders: 'postgres://broker@127.0.0.1:5432/orders' }, 'jit_');
afterAll(() => provider.close());

const template = pgTemplate({
  privileges: {
    SELECT: ['public.orders', 'public.customers', 'public."x; DROP TABLE y"'],
    INSERT: ['public.orders'],
    UPDATE: ['public.customers'],
  },
});

describe('scope: the intent narrowed to the ceiling', () => {
  it('grants every requested privilege on every requested table when each pair is in the ceiling', () => {
    expect(provider.scope(template, intent(['INSERT', 'SELECT'], ['public.orders']))).toEqual({
      ok: true,
      grant: { privileges: ['SELECT', 'INSERT'], tables: [{ schema: 'public', name: 'orders' }] },
    });
  });

  it('with no resources grants every ceiling table that allows all the requested privileges', () => {
    expect(provider.scope(template, intent(['SELECT']))).toEqual({
      ok: true,
      grant: {
        privileges: ['SELECT'],
        tables: [
          { schema: 'public', name: 'orders' },
          { schema: 'public', name: 'customers' },
          { schema: 'public', name: 'x; DROP TABLE y' },
        ],
      },
    });
    expect(provider.scope(template, intent(['SELECT', 'UPDATE']))).toEqual({
      ok: true,
      grant: { privileges: ['SELECT', 'UPDATE'], tables: [{ schema: 'public', name: 'customers' }] },
    });
  });

  it('compares table names the way PostgreSQL resolves them', () => {
    for (const spelling of ['public.orders', 'PUBLIC.Orders', '"public"."orders"']) {
      expect(provider.scope(template, intent(['SELECT'], [spelling])).ok).toBe(true);
    }
    expect(provider.scope(template, intent(['SELECT'], ['public."Orders"']))).toEqual({
      ok: false,
      reason: 'SELECT on resource "public."Orders"" is not allowed by template "orders-db"',
    });
  });

  it('accepts privileges in any case and ignores duplicates', () => {
    const scoped = provider.scope(template, intent(['select', 'SELECT'], ['public.orders', 'public.orders']));
    expect(scoped).toEqual({
      ok: true,
      grant: { privileges: ['SELECT'], tables: [{ schema: 'public', name: 'orders' }] },
    });
  });
});

describe('scope: what is denied, naming the first thing that does not fit', () => {
  it.each([
    [
      ['TRUNCATE'],
      [],
      'action "TRUNCATE" is not a privilege the broker grants (SELECT, INSERT, UPDATE, DELETE)',
    ],
    [['SELECT', 'DELETE'], [], 'privilege DELETE is not allowed by template "orders-db"'],
    [
      ['SELECT'],
      ['public.secrets'],
      'SELECT on resource "public.secrets" is not allowed by template "orders-db"',
    ],
    [
      ['SELECT'],
      ['public.orders', 'public.secrets', 'public.other'],
      'SELECT on resource "public.secrets" is not allowed by template "orders-db"',
    ],
    // Each privilege is in the ceiling and so is the table, but not that pair.
    [
      ['SELECT', 'INSERT'],
      ['public.customers'],
      'INSERT on resource "public.customers" is not allowed by template "orders-db"',
    ],
    [['INSERT', 'UPDATE'], [], 'no table of template "orders-db" allows all of INSERT, UPDATE'],
    [
      ['SELECT'],
      ['orders'],
      'resource "orders" is not a table name: must be schema-qualified (schema.table)',
    ],
    [
      ['SELECT'],
      ['public.orders; DROP TABLE y'],
      'resource "public.orders; DROP TABLE y" is not a table name: unexpected ";" after table name',
    ],
    [
      ['SELECT'],
      ['public.x; DROP TABLE y'],
      'resource "public.x; DROP TABLE y" is not a table name: unexpected ";" after table name',
    ],
    [
      ['GRANT ALL'],
      [],
      'action "GRANT ALL" is not a privilege the broker grants (SELECT, INSERT, UPDATE, DELETE)',
    ],
  ])('%j on %j', (actions, resources, reason) => {
    expect(provider.scope(template, intent(actions, resources))).toEqual({ ok: false, reason });
  });

  it('matches a hostile table name only as the exact quoted table', () => {
    expect(provider.scope(template, intent(['SELECT'], ['public."x; DROP TABLE y"']))).toEqual({
      ok: true,
      grant: { privileges: ['SELECT'], tables: [{ schema: 'public', name: 'x; DROP TABLE y' }] },
    });
  });
});

describe('checkTemplate', () => {
  it('reports a target without TARGET_<NAME>_URL and ceiling entries that are not schema.table', () => {
    const bad = pgTemplate({
      target: 'billing',
      privileges: { SELECT: ['public.orders', 'orders', 'a.b.c'] },
    });
    expect(provider.checkTemplate(bad)).toEqual([
      'target "billing" needs TARGET_BILLING_URL to be set',
      'privileges.SELECT[1] "orders": must be schema-qualified (schema.table)',
      'privileges.SELECT[2] "a.b.c": must be exactly schema.table',
    ]);
    expect(provider.checkTemplate(template)).toEqual([]);
  });
});
