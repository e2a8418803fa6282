// Where a workload's identity token comes from, in order: a file (re-read before every request,
// since Kubernetes rotates projected service-account tokens), a variable, or the GitHub Actions
// OIDC token endpoint. A source is a function the client calls before each request.
import { readFile } from 'node:fs/promises';
import { NoWorkloadTokenError } from './errors.js';

/** A bearer token, or a function that returns the current one (called before every request). */
export type TokenSource = string | (() => string | Promise<string>);

export interface WorkloadTokenOptions {
  /** A token file, re-read before every request (`--token-file`, `JIT_TOKEN_FILE`). */
  file?: string | undefined;
  /** The token itself (`JIT_WORKLOAD_TOKEN`). */
  token?: string | undefined;
  /** GitHub Actions: `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`. */
  github?: {
    requestUrl?: string | undefined;
    requestToken?: string | undefined;
    audience?: string | undefined;
  };
  fetch?: typeof fetch;
}

export const DEFAULT_AUDIENCE = 'jit-broker';

const SOURCES =
  'no workload token: set --token-file or JIT_TOKEN_FILE (a token file, e.g. a projected service-account token), ' +
  'JIT_WORKLOAD_TOKEN (the token itself), or run in GitHub Actions with `permissions: id-token: write` ' +
  '(ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN)';

/** The options as the environment gives them (the CLI's flags override the file and audience). */
export function workloadTokenOptionsFromEnv(
  env: Record<string, string | undefined>,
  overrides: { file?: string | undefined; audience?: string | undefined } = {},
): WorkloadTokenOptions {
  return {
    file: overrides.file ?? nonEmpty(env.JIT_TOKEN_FILE),
    token: nonEmpty(env.JIT_WORKLOAD_TOKEN),
    github: {
      requestUrl: nonEmpty(env.ACTIONS_ID_TOKEN_REQUEST_URL),
      requestToken: nonEmpty(env.ACTIONS_ID_TOKEN_REQUEST_TOKEN),
      audience: overrides.audience,
    },
  };
}

/**
 * The first source that is configured, as a TokenSource; throws NoWorkloadTokenError (naming all
 * three sources) when none is. Which source is chosen is decided once; the token is fetched per call.
 */
export function workloadToken(options: WorkloadTokenOptions): () => Promise<string> {
  if (options.file !== undefined) return fileToken(options.file);
  if (options.token !== undefined) {
    const token = options.token.trim();
    return async () => token;
  }
  const github = options.github;
  if (github?.requestUrl !== undefined && github.requestToken !== undefined) {
    return githubActionsToken({
      requestUrl: github.requestUrl,
      requestToken: github.requestToken,
      audience: github.audience ?? DEFAULT_AUDIENCE,
      fetch: options.fetch,
    });
  }
  throw new NoWorkloadTokenError(SOURCES);
}

/** Reads the file every time: a rotated token is picked up on the next request. */
export function fileToken(file: string): () => Promise<string> {
  return async () => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new NoWorkloadTokenError(`cannot read the workload token file ${file} (${code})`);
    }
    const token = text.trim();
    if (token === '') throw new NoWorkloadTokenError(`the workload token file ${file} is empty`);
    return token;
  };
}

/**
 * GitHub Actions' OIDC token request (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…`, bearer
 * `$ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answer `{ "value": "<jwt>" }`). The token is kept until a
 * minute before its `exp`, so a long job does not ask for one per request.
 */
export function githubActionsToken(options: {
  requestUrl: string;
  requestToken: string;
  audience: string;
  fetch?: typeof fetch | undefined;
}): () => Promise<string> {
  let cached: { token: string; refreshAt: number } | undefined;
  const doFetch = options.fetch ?? fetch;
  return async () => {
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    const url = new URL(options.requestUrl);
    url.searchParams.set('audience', options.audience);
    let res: Response;
    try {
      res = await doFetch(url, {
        headers: { authorization: `Bearer ${options.requestToken}`, accept: 'application/json' },
      });
    } catch (error) {
      throw new NoWorkloadTokenError(
        `the GitHub Actions OIDC token request failed (${(error as Error).message})`,
      );
    }
    const body = (await res.json().catch(() => undefined)) as { value?: unknown } | undefined;
    if (!res.ok || typeof body?.value !== 'string' || body.value === '') {
      throw new NoWorkloadTokenError(
        `the GitHub Actions OIDC token request answered ${res.status} without a token (does the job have \`permissions: id-token: write\`?)`,
      );
    }
    const exp = expiryOf(body.value);
    cached = { token: body.value, refreshAt: exp === undefined ? 0 : exp * 1000 - 60_000 };
    return body.value;
  };
}

/** The `exp` claim, read without verification: only to decide when to ask again. */
function expiryOf(jwt: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** Resolves a TokenSource to the token for one request. */
export async function tokenOf(source: TokenSource): Promise<string> {
  return typeof source === 'string' ? source : await source();
}
