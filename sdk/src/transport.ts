// One typed HTTP client (openapi-fetch over the generated paths) shared by the agent and staff
// clients: bearer tokens resolved per request, problems turned into typed errors.
import createClient, { type Client } from 'openapi-fetch';
import { BrokerError, errorFor, problemFrom } from './errors.js';
import type { paths } from './openapi.js';
import { type TokenSource, tokenOf } from './token-sources.js';

export const DEFAULT_BROKER_URL = 'http://localhost:8080';

export interface TransportOptions {
  /** The broker's base URL; default http://localhost:8080. */
  url?: string | undefined;
  fetch?: typeof fetch | undefined;
}

export type ApiClient = Client<paths>;

export function createApiClient(options: TransportOptions): {
  api: ApiClient;
  baseUrl: string;
  fetch: typeof fetch;
} {
  const baseUrl = (options.url ?? DEFAULT_BROKER_URL).replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  return { api: createClient<paths>({ baseUrl, fetch: doFetch }), baseUrl, fetch: doFetch };
}

export async function bearer(source: TokenSource | undefined, what: string): Promise<Record<string, string>> {
  if (source === undefined) {
    throw new BrokerError({
      type: 'urn:jit-broker:problem:missing-token',
      title: 'Unauthorized',
      status: 401,
      detail: `no ${what} token configured`,
    });
  }
  return { authorization: `Bearer ${await tokenOf(source)}` };
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a 2xx answer, or the typed error of any other. */
export function unwrap<T>(result: FetchResult<T>): T {
  const { response } = result;
  if (response.ok && result.data !== undefined) return result.data;
  throw errorFor(problemFrom(response.status, response.statusText, result.error), response.headers);
}

/** Network failures (connection refused, reset) as a BrokerError that names the broker. */
export async function reach<T>(baseUrl: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    // fetch() reports network failures as a TypeError; anything else (a token source's error, an
    // abort) is passed on as it is.
    if (!(error instanceof TypeError)) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new BrokerError(
      {
        type: 'urn:jit-broker:problem:unreachable',
        title: 'Broker unreachable',
        status: 0,
        detail: `${baseUrl}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      },
      { cause: error },
    );
  }
}
