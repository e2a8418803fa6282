// Discovery: the keys of minted JWTs, and the broker's authorization server metadata (RFC 8414),
// served also as an OpenID Connect Discovery document for clients that only look there.
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { CLIENT_ASSERTION_ALGORITHMS } from '../../identity/resource-server-auth.js';
import { tokenEndpointMetadata } from '../../oauth/metadata.js';
import type { PolicyStore } from '../../policy/policy-store.js';
import type { ResourceServerConfig } from '../../policy-config/broker-yaml.js';
import type { KeyStore } from '../../providers/jwt/key-store.js';
import type { App } from '../env.js';
import { jsonContent, publicSecurity, refusalResponses } from '../openapi-common.js';

const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).meta({ id: 'JWKS' });
const MetadataSchema = z
  .object({
    issuer: z.string(),
    jwks_uri: z.string(),
    response_types_supported: z.array(z.string()),
    subject_types_supported: z.array(z.string()),
    grant_types_supported: z.array(z.string()),
    introspection_endpoint: z.string(),
    introspection_endpoint_auth_methods_supported: z.array(z.string()),
    introspection_endpoint_auth_signing_alg_values_supported: z.array(z.string()).optional(),
  })
  .passthrough()
  .meta({ id: 'AuthorizationServerMetadata' });
type Metadata = z.infer<typeof MetadataSchema>;

/** How resource servers may authenticate to /v1/introspect; `none` while none is configured. */
function introspectionAuthMethods(servers: readonly ResourceServerConfig[]): string[] {
  if (servers.length === 0) return ['none'];
  const methods: string[] = [];
  if (servers.some((rs) => rs.client_secret_sha256 !== undefined))
    methods.push('client_secret_basic', 'client_secret_post');
  if (servers.some((rs) => rs.client_secret_sha256 === undefined)) methods.push('private_key_jwt');
  return methods;
}

/**
 * The one metadata document, for both well-known paths. What the broker does not do is said
 * explicitly rather than left to RFC 8414's defaults: no authorization endpoint (so no response
 * types); the token endpoint's grants are those of src/oauth/. No ID token is ever issued, so no
 * ID token algorithm is advertised.
 */
export function authorizationServerMetadata(
  config: Config,
  resourceServers: readonly ResourceServerConfig[],
): Metadata {
  const base = config.publicUrl;
  const authMethods = introspectionAuthMethods(resourceServers);
  return {
    issuer: config.brokerIssuer,
    jwks_uri: `${base}/.well-known/jwks.json`,
    response_types_supported: [],
    subject_types_supported: ['public'],
    introspection_endpoint: `${base}/v1/introspect`,
    introspection_endpoint_auth_methods_supported: authMethods,
    ...(authMethods.includes('private_key_jwt')
      ? { introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGORITHMS] }
      : {}),
    ...tokenEndpointMetadata(base),
  };
}

const jwksRoute = createRoute({
  method: 'get',
  path: '/.well-known/jwks.json',
  operationId: 'getJwks',
  summary: 'Public keys of minted JWTs (current and, during rotation, previous)',
  security: publicSecurity,
  responses: { 200: { description: 'JWK Set', content: jsonContent(JwksSchema) }, ...refusalResponses },
});

const oauthMetadataRoute = createRoute({
  method: 'get',
  path: '/.well-known/oauth-authorization-server',
  operationId: 'getAuthorizationServerMetadata',
  summary: 'Authorization server metadata (RFC 8414)',
  security: publicSecurity,
  responses: { 200: { description: 'Metadata', content: jsonContent(MetadataSchema) }, ...refusalResponses },
});

const openIdRoute = createRoute({
  method: 'get',
  path: '/.well-known/openid-configuration',
  operationId: 'getOpenIdConfiguration',
  summary: 'The same metadata at the OpenID Connect Discovery location',
  security: publicSecurity,
  responses: { 200: { description: 'Metadata', content: jsonContent(MetadataSchema) }, ...refusalResponses },
});

export function registerWellKnownRoutes(
  app: App,
  deps: { config: Config; keyStore: KeyStore; policies: PolicyStore },
) {
  app.openapi(jwksRoute, (c) => {
    c.header('Cache-Control', 'public, max-age=60');
    return c.json(deps.keyStore.jwks() as z.infer<typeof JwksSchema>, 200);
  });
  const metadata = () =>
    authorizationServerMetadata(deps.config, deps.policies.current().config.resource_servers);
  app.openapi(oauthMetadataRoute, (c) => c.json(metadata(), 200));
  app.openapi(openIdRoute, (c) => c.json(metadata(), 200));
}
