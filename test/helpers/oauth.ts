// A test broker served on a real port, discovered by openid-client (the standard OAuth client),
// and small helpers for token requests: with the library where it fits, with plain fetch where a
// test needs the raw wire (headers, a malformed body).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import * as client from 'openid-client';
import { startTestBroker, type TestBroker, type TestBrokerOptions } from './broker.js';
import { freePort } from './broker-process.js';
import { DEFAULT_SCHEMA } from './policy-dir.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const CIBA = 'urn:openid:params:grant-type:ciba';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const TXN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token';
export const REPORTS = 'https://reports.internal';

/** The test schema with `delegation?` declared, so that delegated requests can be allowed. */
export const DELEGATION_SCHEMA = DEFAULT_SCHEMA.replace(
  '  approved: Bool,\n};',
  '  approved: Bool,\n  delegation?: { depth: Long, chain: Set<String>, parent_lease: String },\n};',
);

export interface ServedBroker extends TestBroker {
  url: string;
  oauth: client.Configuration;
  /** POST /v1/token with a form body, as any client would send it. */
  token(params: Record<string, string>, headers?: Record<string, string>): Promise<WireResponse>;
  stop(): Promise<void>;
}

export interface WireResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field in tests
  body: any;
}

export async function startServedBroker(options: TestBrokerOptions = {}): Promise<ServedBroker> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t = await startTestBroker({
    schema: DELEGATION_SCHEMA,
    ...options,
    env: { BROKER_ISSUER: url, PUBLIC_URL: url, ...options.env },
  });
  const server = serve({ fetch: t.broker.app.fetch, port, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  if ((server.address() as AddressInfo).port !== port) throw new Error('the broker did not get its port');
  const oauth = await client.discovery(new URL(url), 'jit-broker-tests', undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const token: ServedBroker['token'] = async (params, headers = {}) => {
    const res = await fetch(`${url}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(params),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body };
  };
  return Object.assign(t, {
    url,
    oauth,
    token,
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await t.close();
    },
  });
}

/** A task_intent authorization_details parameter. */
export function taskIntent(fields: Record<string, unknown> = {}): string {
  return JSON.stringify([
    {
      type: 'task_intent',
      task_id: 't-oauth',
      purpose: 'monthly report',
      actions: ['reports:read'],
      resources: [],
      ...fields,
    },
  ]);
}

/** Token exchange of a workload's own identity token, through openid-client. */
export function exchange(b: ServedBroker, subjectToken: string, params: Record<string, string> = {}) {
  return client.genericGrantRequest(b.oauth, TOKEN_EXCHANGE, {
    subject_token: subjectToken,
    subject_token_type: JWT_TYPE,
    resource: REPORTS,
    scope: 'reports:read',
    ...params,
  });
}

/** The next link of a delegation chain: the parent's broker token and the sub-agent's identity. */
export function delegate(
  b: ServedBroker,
  parentToken: string,
  actorToken: string,
  params: Record<string, string> = {},
) {
  return client.genericGrantRequest(b.oauth, TOKEN_EXCHANGE, {
    subject_token: parentToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    actor_token: actorToken,
    actor_token_type: JWT_TYPE,
    ...params,
  });
}

/** The OAuth error openid-client raised, as `{ status, error, body }`. */
export async function oauthFailure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof client.ResponseBodyError) {
      return { status: error.status, error: error.error, body: error.cause as Record<string, unknown> };
    }
    throw error;
  }
  throw new Error('expected the token request to fail');
}

export async function leaseCount(t: TestBroker): Promise<number> {
  const [row] = await t.database.sql<{ n: number }[]>`select count(*)::int as n from leases`;
  return row!.n;
}
