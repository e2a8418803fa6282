// examples/mcp against a real broker: the agent discovers the broker through the MCP server's
// protected-resource metadata, gets a token by token exchange and calls the tool; the server
// refuses the token once the task is completed, and a token minted for another resource.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { callReportTool, discover, HttpError, runAgent } from '../../examples/mcp/agent.js';
import { type RunningMcpServer, startMcpServer } from '../../examples/mcp/server.js';
import { TEST_POLICIES, TEST_TEMPLATES } from '../helpers/broker.js';
import { freePort } from '../helpers/broker-process.js';
import { exchange, type ServedBroker, startServedBroker } from '../helpers/oauth.js';

let b: ServedBroker;
let mcp: RunningMcpServer;
let resource: string;

beforeAll(async () => {
  const port = await freePort();
  resource = `http://127.0.0.1:${port}/mcp`;
  b = await startServedBroker({
    templates: {
      ...TEST_TEMPLATES,
      'reports-mcp': {
        provider: 'jwt',
        audience: resource,
        scopes: ['reports:read'],
        default_ttl: '5m',
        max_ttl: '15m',
      },
    },
    policies: {
      ...TEST_POLICIES,
      'mcp.cedar': `@id("reports-agents-use-reports-mcp")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"reports-mcp")
when { principal has namespace && principal.namespace == "reports" };
`,
    },
  });
  mcp = await startMcpServer({ brokerUrl: b.url, resource, port });
});
afterAll(async () => {
  await mcp?.close();
  await b?.stop();
});

describe('the MCP example', () => {
  test('the server names the broker in its RFC 9728 metadata', async () => {
    expect(await discover(resource)).toEqual({ resource, tokenEndpoint: `${b.url}/v1/token` });
  });

  test('the agent gets a token by token exchange and the tool call works, until the task is completed', async () => {
    const agentToken = await b.agentToken();
    const { grant, text } = await runAgent({
      mcpUrl: resource,
      workloadToken: agentToken,
      taskId: 't-mcp',
      month: '2026-10',
    });
    expect(text).toBe('report for 2026-10: 42 orders (for agent-reports, task t-mcp)');
    expect(grant.task_id).toBe('t-mcp');

    const done = await b.request('POST', '/v1/tasks/t-mcp/complete', { token: agentToken });
    expect(done.status).toBe(200);
    const refused = await callReportTool(resource, grant.access_token, '2026-10').catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(HttpError);
    expect((refused as HttpError).status).toBe(401);
  });

  test('a token minted for another resource is refused with 401', async () => {
    const other = await exchange(b, await b.agentToken());
    const refused = await callReportTool(resource, other.access_token, '2026-10').catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(HttpError);
    expect((refused as HttpError).status).toBe(401);
  });

  test('a request without a token is challenged with the metadata URL', async () => {
    const res = await fetch(resource, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(
      'resource_metadata="http://127.0.0.1:' +
        new URL(resource).port +
        '/.well-known/oauth-protected-resource/mcp"',
    );
  });
});
