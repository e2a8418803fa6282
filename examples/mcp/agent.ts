// An agent that calls an MCP tool with a broker token: it asks the MCP server who its authorization
// server is (RFC 9728), reads that server's metadata (RFC 8414), exchanges its workload identity
// token for a token bound to the MCP server (RFC 8693 + RFC 8707, the intent as RFC 9396
// task_intent), and calls the tool with it. Run:
//   JIT_WORKLOAD_TOKEN=$(jit-broker dev token) MCP_URL=http://127.0.0.1:3001/mcp npx tsx examples/mcp/agent.ts
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface AgentOptions {
  mcpUrl: string;
  workloadToken: string;
  taskId: string;
  purpose?: string;
  scope?: string;
  month?: string;
}

export interface TokenGrant {
  access_token: string;
  expires_in: number;
  task_id: string;
  lease_id: string;
  scope: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new HttpError(res.status, `GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

/** The protected-resource metadata of the MCP server, and its authorization server's token endpoint. */
export async function discover(mcpUrl: string): Promise<{ resource: string; tokenEndpoint: string }> {
  const probe = await fetch(mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  const challenge = probe.headers.get('www-authenticate') ?? '';
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
  if (probe.status !== 401 || metadataUrl === undefined)
    throw new Error('the MCP server did not name its metadata');
  const prm = await getJson<{ resource: string; authorization_servers: string[] }>(metadataUrl);
  const issuer = prm.authorization_servers[0];
  if (issuer === undefined) throw new Error('the MCP server names no authorization server');
  const base = issuer.replace(/\/$/, '');
  // RFC 8414 first; an OpenID provider's document says the same.
  const as = await getJson<{ issuer: string; token_endpoint: string }>(
    `${base}/.well-known/oauth-authorization-server`,
  ).catch(() =>
    getJson<{ issuer: string; token_endpoint: string }>(`${base}/.well-known/openid-configuration`),
  );
  if (as.issuer !== issuer) throw new Error('the authorization server metadata names another issuer');
  return { resource: prm.resource, tokenEndpoint: as.token_endpoint };
}

export async function exchangeToken(
  tokenEndpoint: string,
  resource: string,
  options: Pick<AgentOptions, 'workloadToken' | 'taskId' | 'purpose' | 'scope'>,
): Promise<TokenGrant> {
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: options.workloadToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    resource,
    authorization_details: JSON.stringify([
      {
        type: 'task_intent',
        task_id: options.taskId,
        purpose: options.purpose ?? 'monthly report',
        actions: [options.scope ?? 'reports:read'],
        resources: [],
      },
    ]),
    client_id: 'example-mcp-agent',
  });
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const json = (await res.json()) as TokenGrant & { error?: string; error_description?: string };
  if (!res.ok) throw new HttpError(res.status, `token endpoint: ${json.error}: ${json.error_description}`);
  return json;
}

/** Calls the MCP tool with `accessToken`; a refused token surfaces as HttpError 401 or 403. */
export async function callReportTool(mcpUrl: string, accessToken: string, month: string): Promise<string> {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
  });
  const client = new Client({ name: 'example-agent', version: '1.0.0' });
  try {
    await client.connect(transport);
    const result = await client.callTool({ name: 'monthly_report', arguments: { month } });
    const [first] = result.content as { type: string; text?: string }[];
    return first?.text ?? '';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'number' && code >= 400 && code < 600)
      throw new HttpError(code, (error as Error).message);
    throw error;
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function runAgent(options: AgentOptions): Promise<{ grant: TokenGrant; text: string }> {
  const { resource, tokenEndpoint } = await discover(options.mcpUrl);
  const grant = await exchangeToken(tokenEndpoint, resource, options);
  const text = await callReportTool(options.mcpUrl, grant.access_token, options.month ?? '2026-11');
  return { grant, text };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const workloadToken = process.env.JIT_WORKLOAD_TOKEN;
  if (!workloadToken) throw new Error('set JIT_WORKLOAD_TOKEN to a workload identity token');
  const { grant, text } = await runAgent({
    mcpUrl: process.env.MCP_URL ?? 'http://127.0.0.1:3001/mcp',
    workloadToken,
    taskId: process.env.JIT_TASK_ID ?? `mcp-${Date.now()}`,
  });
  console.log(`lease ${grant.lease_id} (task ${grant.task_id}, ${grant.expires_in} s): ${text}`);
}
