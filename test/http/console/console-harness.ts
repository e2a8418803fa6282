// A broker served on a real port with a real OIDC provider as its staff IdP, policies that send
// requests to step-up, and helpers to create pending requests as agents would.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { STAFF_AUDIENCE, startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { ConsoleClient } from './console-client.js';
import { listenStaffIdp, type StaffIdp } from './staff-idp.js';

export const CONSOLE_CLIENT_SECRET = 'console-client-secret-4f1b9c7e';

export const CONSOLE_TEMPLATES = {
  'reports-admin': {
    provider: 'jwt',
    audience: 'https://reports.internal',
    scopes: ['reports:read', 'reports:admin'],
    default_ttl: '10m',
    max_ttl: '1h',
  },
  'billing-api': {
    provider: 'jwt',
    audience: 'https://billing.internal',
    scopes: ['billing:read', 'billing:refund'],
    default_ttl: '5m',
    max_ttl: '15m',
  },
  'customer-export': {
    provider: 'jwt',
    audience: 'https://crm.internal',
    scopes: ['customers:read', 'customers:export'],
    default_ttl: '15m',
    max_ttl: '2h',
  },
};

export const CONSOLE_POLICIES: Record<string, string> = {
  'step-up.cedar': `// Administrative access to reports needs security on-call.
@id("reports-admin-needs-oncall")
@step_up("security-oncall")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"reports-admin")
when { principal has namespace && principal.namespace == "reports" };

// Billing agents get billing access once on-call agrees.
@id("billing-needs-oncall")
@step_up("security-oncall")
permit (principal, action == Action::"mint", resource == Template::"billing-api")
when { principal has namespace && principal.namespace == "billing" };

// Customer exports: only for a human, and two people from on-call must agree.
@id("customer-export-two-approvers")
@step_up("security-oncall")
@approvals("2")
permit (principal, action == Action::"mint", resource == Template::"customer-export")
when { context has on_behalf_of };
`,
};

export interface ConsoleHarness {
  tb: TestBroker;
  idp: StaffIdp;
  brokerUrl: string;
  client(): ConsoleClient;
  /** POST /v1/credentials as agent `sub` in `namespace`; returns the pending approval id. */
  requestStepUp(request: StepUpRequest): Promise<string>;
  close(): Promise<void>;
}

export interface StepUpRequest {
  agent: string;
  namespace: string;
  template: string;
  taskId: string;
  purpose: string;
  actions: string[];
  resources?: string[];
  ttlSeconds?: number;
  /** A staff subject the agent acts for (a token signed by the IdP is forwarded). */
  onBehalfOf?: string;
}

export interface ConsoleHarnessOptions {
  /** Undefined: the console is a public client (PKCE only). */
  clientSecret?: string | undefined;
}

export async function startConsoleHarness(
  options: ConsoleHarnessOptions = { clientSecret: CONSOLE_CLIENT_SECRET },
): Promise<ConsoleHarness> {
  // Both servers listen before either is configured: each needs the other's URL.
  let fetchBroker: (request: Request) => Response | Promise<Response> = () =>
    new Response('starting', { status: 503 });
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: (request) => fetchBroker(request), port: 0, hostname: '127.0.0.1' }, () =>
      resolve(s as Server),
    );
  });
  const brokerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const listening = await listenStaffIdp();
  const idp = await listening.configure({
    clientId: STAFF_AUDIENCE,
    clientSecret: options.clientSecret,
    redirectUri: `${brokerUrl}/console/callback`,
  });
  const tb = await startTestBroker({
    templates: CONSOLE_TEMPLATES,
    policies: CONSOLE_POLICIES,
    staff: { issuer: idp.issuer, jwks_uri: idp.jwksUri, jwks_file: undefined, algorithms: ['RS256'] },
    env: {
      PUBLIC_URL: brokerUrl,
      ...(options.clientSecret === undefined ? {} : { STAFF_CLIENT_SECRET: options.clientSecret }),
    },
  });
  fetchBroker = (request) => tb.broker.app.fetch(request);

  return {
    tb,
    idp,
    brokerUrl,
    client: () => new ConsoleClient(brokerUrl),
    async requestStepUp(r) {
      const token = await tb.agentToken(r.agent, {
        'kubernetes.io': { namespace: r.namespace, serviceaccount: { name: r.agent } },
      });
      const body = {
        template: r.template,
        intent: { task_id: r.taskId, purpose: r.purpose, actions: r.actions, resources: r.resources ?? [] },
        ...(r.ttlSeconds === undefined ? {} : { ttl_seconds: r.ttlSeconds }),
        ...(r.onBehalfOf === undefined ? {} : { on_behalf_of: await idp.signToken(r.onBehalfOf) }),
      };
      const res = await tb.request('POST', '/v1/credentials', { token, body });
      if (res.status !== 202) throw new Error(`expected a pending request, got ${res.status}: ${res.text}`);
      return res.body.approval_id as string;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await idp.close();
      await tb.close();
    },
  };
}
