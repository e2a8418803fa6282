// Discovery for relying parties that verify broker-minted JWTs.
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { tokenEndpointMetadata } from '../../oauth/metadata.js';
import type { KeyStore } from '../../providers/jwt/key-store.js';
import type { App } from '../env.js';
import { jsonContent } from '../openapi-common.js';

const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).meta({ id: 'JWKS' });
const DiscoverySchema = z
  .object({ issuer: z.string(), jwks_uri: z.string(), introspection_endpoint: z.string() })
  .passthrough()
  .meta({ id: 'OpenIdConfiguration' });

const jwksRoute = createRoute({
  method: 'get',
  path: '/.well-known/jwks.json',
  summary: 'Public keys of minted JWTs (current and, during rotation, previous)',
  responses: { 200: { description: 'JWK Set', content: jsonContent(JwksSchema) } },
});

const discoveryRoute = createRoute({
  method: 'get',
  path: '/.well-known/openid-configuration',
  summary: 'Issuer metadata',
  responses: { 200: { description: 'Metadata', content: jsonContent(DiscoverySchema) } },
});

export function registerWellKnownRoutes(app: App, deps: { config: Config; keyStore: KeyStore }) {
  app.openapi(jwksRoute, (c) => {
    c.header('Cache-Control', 'public, max-age=60');
    return c.json(deps.keyStore.jwks() as z.infer<typeof JwksSchema>, 200);
  });
  app.openapi(discoveryRoute, (c) => {
    const base = deps.config.publicUrl;
    return c.json(
      {
        issuer: deps.config.brokerIssuer,
        jwks_uri: `${base}/.well-known/jwks.json`,
        introspection_endpoint: `${base}/v1/introspect`,
        introspection_endpoint_auth_methods_supported: ['none'],
        ...tokenEndpointMetadata(base),
        id_token_signing_alg_values_supported: [deps.keyStore.currentKey().alg],
      },
      200,
    );
  });
}
