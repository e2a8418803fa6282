// The token endpoint's request parsing on its own: the form, scope and authorization_details,
// and which template a resource or audience selects.
import { describe, expect, test } from 'vitest';
import { OAuthError } from '../../src/oauth/errors.js';
import { parseTokenForm } from '../../src/oauth/form.js';
import { MAX_AUTHORIZATION_DETAILS_BYTES, requestedIntent } from '../../src/oauth/intent-request.js';
import { selectTemplate } from '../../src/oauth/target.js';
import type { Template } from '../../src/providers/templates.js';

const FORM = 'application/x-www-form-urlencoded';

function refusal(fn: () => unknown): { error: string; description: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof OAuthError) return { error: error.error, description: error.description };
    throw error;
  }
  throw new Error('expected an OAuth error');
}

describe('the token request form', () => {
  test('reads each parameter, with the charset parameter of the media type allowed', () => {
    const form = parseTokenForm(`${FORM}; charset=UTF-8`, 'grant_type=x&scope=a%20b');
    expect(form.get('grant_type')).toBe('x');
    expect(form.get('scope')).toBe('a b');
  });

  test('refuses JSON, a missing content type and multipart as invalid_request', () => {
    for (const type of ['application/json', undefined, 'multipart/form-data; boundary=x', 'text/plain']) {
      expect(refusal(() => parseTokenForm(type, 'grant_type=x')).error).toBe('invalid_request');
    }
  });

  test('refuses a parameter sent twice, but not a second resource or audience', () => {
    expect(refusal(() => parseTokenForm(FORM, 'grant_type=a&grant_type=b'))).toMatchObject({
      error: 'invalid_request',
      description: 'parameter grant_type is included more than once',
    });
    expect(parseTokenForm(FORM, 'resource=https://a&resource=https://b').all('resource')).toEqual([
      'https://a',
      'https://b',
    ]);
  });

  test('treats an empty value as an absent parameter (RFC 6749 §3.1)', () => {
    const form = parseTokenForm(FORM, 'scope=&grant_type=x&scope=a');
    expect(form.get('scope')).toBe('a');
  });

  test('does not echo a hostile parameter name', () => {
    const name = encodeURIComponent('<script>');
    expect(refusal(() => parseTokenForm(FORM, `${name}=1&${name}=2`)).description).toBe(
      'parameter (unnamed) is included more than once',
    );
  });
});

describe('scope and authorization_details', () => {
  const detail = (extra: object = {}) =>
    JSON.stringify([
      {
        type: 'task_intent',
        task_id: 't-1',
        purpose: 'p',
        actions: ['reports:read'],
        resources: [],
        ...extra,
      },
    ]);

  test('scope alone becomes the actions, deduplicated', () => {
    expect(requestedIntent('reports:read reports:read  reports:export', undefined)).toMatchObject({
      actions: ['reports:read', 'reports:export'],
      taskId: undefined,
      detailed: false,
    });
  });

  test('authorization_details gives the whole intent and an optional template', () => {
    expect(requestedIntent(undefined, detail({ template: 'reports-api' }))).toMatchObject({
      taskId: 't-1',
      purpose: 'p',
      actions: ['reports:read'],
      template: 'reports-api',
      detailed: true,
    });
  });

  test('refuses authorization_details that is not one task_intent object', () => {
    for (const raw of [
      '{',
      '{}',
      '[]',
      '[1]',
      JSON.stringify([{ type: 'payment' }]),
      `[${detail().slice(1, -1)},${detail().slice(1, -1)}]`,
    ]) {
      expect(refusal(() => requestedIntent(undefined, raw)).error).toBe('invalid_authorization_details');
    }
  });

  test('refuses unknown fields and malformed values inside task_intent', () => {
    expect(refusal(() => requestedIntent(undefined, detail({ admin: true }))).description).toMatch(
      /unknown field admin/,
    );
    expect(refusal(() => requestedIntent(undefined, detail({ task_id: 'a b' }))).error).toBe(
      'invalid_authorization_details',
    );
    expect(refusal(() => requestedIntent(undefined, detail({ actions: [] }))).error).toBe(
      'invalid_authorization_details',
    );
  });

  test('refuses authorization_details over its size bound before parsing it', () => {
    const huge = detail({ purpose: 'x'.repeat(MAX_AUTHORIZATION_DETAILS_BYTES) });
    expect(refusal(() => requestedIntent(undefined, huge))).toMatchObject({
      error: 'invalid_authorization_details',
    });
  });

  test('refuses a scope that disagrees with authorization_details, and a malformed scope', () => {
    expect(refusal(() => requestedIntent('reports:export', detail())).error).toBe('invalid_scope');
    expect(refusal(() => requestedIntent('a\\b', undefined)).error).toBe('invalid_scope');
  });
});

describe('resource and audience select one template', () => {
  const jwt = (name: string, audience: string, scopes: string[]): Template =>
    ({ name, provider: 'jwt', audience, scopes, default_ttl: 300, max_ttl: 900 }) as Template;
  const templates = new Map<string, Template>([
    ['reports-api', jwt('reports-api', 'https://reports.internal', ['reports:read', 'reports:export'])],
    ['reports-admin', jwt('reports-admin', 'https://reports.internal', ['reports:admin'])],
    ['reports-read', jwt('reports-read', 'https://reports.internal', ['reports:read'])],
    ['orders-db', { name: 'orders-db', provider: 'postgres' } as Template],
  ]);
  const select = (request: Partial<Parameters<typeof selectTemplate>[1]>) =>
    selectTemplate(templates, {
      resources: [],
      audiences: [],
      template: undefined,
      scopes: undefined,
      ...request,
    });

  test('the template whose audience is the resource and whose scopes cover the request', () => {
    expect(select({ resources: ['https://reports.internal'], scopes: ['reports:admin'] }).name).toBe(
      'reports-admin',
    );
    expect(select({ audiences: ['https://reports.internal'], scopes: ['reports:export'] }).name).toBe(
      'reports-api',
    );
  });

  test('several matches are invalid_target until a template disambiguates', () => {
    expect(
      refusal(() => select({ resources: ['https://reports.internal'], scopes: ['reports:read'] })).error,
    ).toBe('invalid_target');
    expect(
      select({ resources: ['https://reports.internal'], scopes: ['reports:read'], template: 'reports-read' })
        .name,
    ).toBe('reports-read');
  });

  test('no match, no target, two targets or a non-jwt template are invalid_target', () => {
    expect(
      refusal(() => select({ resources: ['https://elsewhere.internal'], scopes: ['reports:read'] })).error,
    ).toBe('invalid_target');
    expect(refusal(() => select({ scopes: ['reports:read'] })).error).toBe('invalid_target');
    expect(
      refusal(() => select({ resources: ['https://reports.internal'], audiences: ['https://b.internal'] }))
        .error,
    ).toBe('invalid_target');
    expect(refusal(() => select({ template: 'orders-db' })).error).toBe('invalid_target');
    expect(
      refusal(() => select({ template: 'reports-api', resources: ['https://elsewhere.internal'] })).error,
    ).toBe('invalid_target');
    expect(refusal(() => select({ resources: ['not a uri'] })).error).toBe('invalid_target');
  });
});
