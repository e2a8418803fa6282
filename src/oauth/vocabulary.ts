// The registered names the token endpoint speaks: grant types and token types (RFC 8693 §3,
// RFC 7523 §2.1, CIBA §10.1, the Transaction Tokens draft).

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const GRANT_CIBA = 'urn:openid:params:grant-type:ciba';

export const GRANT_TYPES = [GRANT_TOKEN_EXCHANGE, GRANT_JWT_BEARER, GRANT_CIBA] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_TXN_TOKEN = 'urn:ietf:params:oauth:token-type:txn_token';

/** What a workload identity JWT may be presented as (it is a JWT, and usually an OIDC ID token). */
export const WORKLOAD_TOKEN_TYPES: ReadonlySet<string> = new Set([TOKEN_TYPE_JWT, TOKEN_TYPE_ID_TOKEN]);
/** What a broker-minted token may be presented as, to delegate it. */
export const BROKER_TOKEN_TYPES: ReadonlySet<string> = new Set([TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT]);
export const ISSUABLE_TOKEN_TYPES: ReadonlySet<string> = new Set([
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_JWT,
  TOKEN_TYPE_TXN_TOKEN,
]);

export const AUTHORIZATION_DETAILS_TYPE = 'task_intent';

/** CIBA poll mode: the shortest time between two polls of one auth_req_id (CIBA §7.3 `interval`). */
export const POLL_INTERVAL_SECONDS = 5;

export const isGrantType = (value: string): value is GrantType =>
  (GRANT_TYPES as readonly string[]).includes(value);
