// An MCP server that trusts jit-broker: it publishes RFC 9728 protected-resource metadata naming
// the broker as its authorization server, accepts only broker tokens minted for its own resource
// (signature from the broker's JWKS, `aud`, then /v1/introspect so a revoked lease stops at once),
// and exposes one tool. Run: BROKER_URL=http://localhost:8080 npx tsx examples/mcp/server.ts
import { serve } from '@hono/node-server';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono } from 'hono';
import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';

export interface McpServerOptions {
  /** Where the broker is reached (JWKS, introspection). */
  brokerUrl: string;
  /** `iss` of broker tokens (BROKER_ISSUER); defaults to brokerUrl. */
  brokerIssuer?: string;
  /** This server's resource identifier: the `resource` agents ask the broker for, and `aud`. */
  resource: string;
  /** The scope the tool needs. */
  requiredScope?: string;
  /** HTTP Basic credentials for /v1/introspect, when the broker asks resource servers for them. */
  introspectionClient?: { id: string; secret: string };
  port?: number;
  hostname?: string;
}

export interface RunningMcpServer {
  url: string;
  resource: string;
  close(): Promise<void>;
}

interface VerifiedToken {
  claims: JWTPayload & { scope?: string; task_id?: string };
}

class Unauthorized extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly code: 'invalid_token' | 'insufficient_scope',
    description: string,
  ) {
    super(description);
  }
}

export function createMcpApp(options: McpServerOptions) {
  const brokerUrl = options.brokerUrl.replace(/\/$/, '');
  const issuer = options.brokerIssuer ?? brokerUrl;
  const resource = options.resource;
  const requiredScope = options.requiredScope ?? 'reports:read';
  const jwks = createRemoteJWKSet(new URL(`${brokerUrl}/.well-known/jwks.json`));
  const resourcePath = new URL(resource).pathname.replace(/\/$/, '');
  const metadataPath = `/.well-known/oauth-protected-resource${resourcePath}`;
  const metadataUrl = `${new URL(resource).origin}${metadataPath}`;

  /** The checks, in order: a Bearer header, the broker's signature and issuer, our audience, a live lease, the scope. */
  async function verify(authorization: string | undefined): Promise<VerifiedToken> {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization ?? '');
    if (!match) throw new Unauthorized(401, 'invalid_token', 'a broker access token is required');
    const token = match[1]!;
    let claims: VerifiedToken['claims'];
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, { issuer, audience: resource, typ: 'JWT' }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError)
        throw new Unauthorized(401, 'invalid_token', 'the token is not for this resource');
      throw error;
    }
    // The JWT alone stays valid until exp; the lease behind it may already be revoked.
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (options.introspectionClient) {
      const { id, secret } = options.introspectionClient;
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    }
    const res = await fetch(`${brokerUrl}/v1/introspect`, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ token }),
    });
    const state = (await res.json().catch(() => ({}))) as { active?: boolean };
    if (!res.ok || state.active !== true)
      throw new Unauthorized(401, 'invalid_token', 'the token is no longer active');
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (!scopes.includes(requiredScope))
      throw new Unauthorized(403, 'insufficient_scope', `the tool needs ${requiredScope}`);
    return { claims };
  }

  function mcpServer(token: VerifiedToken): McpServer {
    const server = new McpServer({ name: 'reports-mcp', version: '1.0.0' });
    server.registerTool(
      'monthly_report',
      {
        description: 'Summarise the reports of one month',
        inputSchema: { month: z.string().regex(/^\d{4}-\d{2}$/) },
      },
      async ({ month }) => ({
        content: [
          {
            type: 'text',
            text: `report for ${month}: 42 orders (for ${token.claims.sub}, task ${token.claims.task_id ?? 'none'})`,
          },
        ],
      }),
    );
    return server;
  }

  const app = new Hono();
  // RFC 9728 §3.1: the metadata of resource https://host/mcp lives at /.well-known/oauth-protected-resource/mcp.
  const metadata = () => ({
    resource,
    authorization_servers: [issuer],
    scopes_supported: [requiredScope],
    bearer_methods_supported: ['header'],
    resource_name: 'Reports MCP server',
  });
  app.get(metadataPath, (c) => c.json(metadata()));
  if (metadataPath !== '/.well-known/oauth-protected-resource') {
    app.get('/.well-known/oauth-protected-resource', (c) => c.json(metadata()));
  }
  app.all(resourcePath || '/', async (c) => {
    let token: VerifiedToken;
    try {
      token = await verify(c.req.header('authorization'));
    } catch (error) {
      if (!(error instanceof Unauthorized)) throw error;
      // RFC 9728 §5.1: the challenge points the client at the metadata, which names the broker.
      const challenge = `Bearer resource_metadata="${metadataUrl}", error="${error.code}", error_description="${error.message}"`;
      return c.json({ error: error.code, error_description: error.message }, error.status, {
        'WWW-Authenticate': challenge,
      });
    }
    // Stateless: one server and transport per request, so nothing outlives the token that opened it.
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    const server = mcpServer(token);
    await server.connect(transport);
    const response = await transport.handleRequest(c.req.raw);
    await server.close();
    return response;
  });
  return app;
}

export async function startMcpServer(options: McpServerOptions): Promise<RunningMcpServer> {
  const app = createMcpApp(options);
  const server = serve({
    fetch: app.fetch,
    port: options.port ?? 0,
    hostname: options.hostname ?? '127.0.0.1',
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address() as { port: number };
  return {
    url: `http://${options.hostname ?? '127.0.0.1'}:${address.port}`,
    resource: options.resource,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 3001);
  const brokerUrl = process.env.BROKER_URL ?? 'http://localhost:8080';
  const running = await startMcpServer({
    brokerUrl,
    brokerIssuer: process.env.BROKER_ISSUER,
    resource: process.env.MCP_RESOURCE ?? `http://127.0.0.1:${port}/mcp`,
    introspectionClient:
      process.env.INTROSPECTION_CLIENT_ID && process.env.INTROSPECTION_CLIENT_SECRET
        ? { id: process.env.INTROSPECTION_CLIENT_ID, secret: process.env.INTROSPECTION_CLIENT_SECRET }
        : undefined,
    port,
  });
  console.log(`MCP server on ${running.url}/mcp, trusting ${brokerUrl}`);
}
