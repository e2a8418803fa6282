// openid-client (the standard OAuth client) pointed at an in-process test broker: its requests go
// to the app through `customFetch`, so discovery, issuer checks and client authentication run
// exactly as they would against a deployed broker.
import * as client from 'openid-client';
import type { TestBroker } from './broker.js';

export function brokerFetch(t: TestBroker): client.CustomFetch {
  return async (url, options) => t.broker.app.request(url, options as RequestInit);
}

/** Discovers the broker's metadata (RFC 8414 location unless `oidc`) as client `clientId`. */
export function discoverBroker(
  t: TestBroker,
  clientId: string,
  auth: client.ClientAuth = client.None(),
  algorithm: 'oauth2' | 'oidc' = 'oauth2',
): Promise<client.Configuration> {
  return client.discovery(new URL(t.config.brokerIssuer), clientId, undefined, auth, {
    [client.customFetch]: brokerFetch(t),
    algorithm,
  });
}
