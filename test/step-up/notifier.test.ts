// The reviewers' notification: with APPROVAL_WEBHOOK_URL set, every new step-up request is POSTed
// to a receiver as a JSON event signed with the broker's webhook scheme, carrying a console link
// and nothing secret; a receiver that fails or is down is retried with backoff until it takes it.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifyWebhookSignature } from '../../src/webhooks/signature.js';
import { ADMIN_REQUEST, requestStepUp, startApprovalsBroker } from '../helpers/approvals.js';
import { TEST_WEBHOOK_SECRET, type TestBroker } from '../helpers/broker.js';

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  // biome-ignore lint/suspicious/noExplicitAny: the event is asserted field by field
  body: any;
}

/** An HTTP receiver on a fixed port that can answer, fail, go down and come back. */
class Receiver {
  readonly received: Received[] = [];
  /** Answers the n-th request (0-based); 200 unless told otherwise. */
  respond: (n: number) => number = () => 200;
  #server: Server | undefined;
  #port = 0;
  #arrivals: ((r: Received) => void)[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks/approvals`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const received = { headers: req.headers, raw, body: JSON.parse(raw) };
        const status = this.respond(this.received.length);
        this.received.push(received);
        res.writeHead(status).end();
        for (const arrived of this.#arrivals.splice(0)) arrived(received);
      });
    });
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Goes down: the port refuses connections until start() again. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  /** Resolves with the n-th request (1-based) once it has arrived. */
  nth(n: number): Promise<Received> {
    if (this.received.length >= n) return Promise.resolve(this.received[n - 1]!);
    return new Promise((resolve) => {
      const check = () => {
        if (this.received.length >= n) resolve(this.received[n - 1]!);
        else this.#arrivals.push(check);
      };
      this.#arrivals.push(check);
    });
  }
}

let t: TestBroker;
const receiver = new Receiver();

beforeAll(async () => {
  await receiver.start();
  t = await startApprovalsBroker({
    env: { APPROVAL_WEBHOOK_URL: receiver.url, PUBLIC_URL: 'https://broker.example.com' },
  });
});

afterAll(async () => {
  await t?.close();
  await receiver.stop();
});

/** The broker's structured log lines about one approval's notification. */
function notificationLogs(
  approvalId: string,
): { msg: string; attempt?: number; retryInMs?: number; attempts?: number; outcome?: string }[] {
  return t.logs
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.approvalId === approvalId && /approval notification/.test(entry.msg));
}

describe('the approval notification', () => {
  it('POSTs a signed JSON event with a console link for each new request, and nothing secret', async () => {
    receiver.respond = () => 200;
    const before = receiver.received.length;
    const onBehalfOf = await t.staffToken('alice');
    const pending = await requestStepUp(t, { ...ADMIN_REQUEST, on_behalf_of: onBehalfOf });
    const event = await receiver.nth(before + 1);

    expect(event.headers['content-type']).toBe('application/json');
    const signature = event.headers['x-broker-signature'] as string;
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(() =>
      verifyWebhookSignature({
        secret: TEST_WEBHOOK_SECRET,
        header: signature,
        rawBody: event.raw,
        now: t.clock.now(),
      }),
    ).not.toThrow();
    // The signature covers the body: a receiver would refuse an altered one, or another secret.
    expect(() =>
      verifyWebhookSignature({
        secret: TEST_WEBHOOK_SECRET,
        header: signature,
        rawBody: event.raw.replace('reports-admin', 'reports-api'),
        now: t.clock.now(),
      }),
    ).toThrow();
    expect(() =>
      verifyWebhookSignature({
        secret: 'another-secret-0123456789',
        header: signature,
        rawBody: event.raw,
        now: t.clock.now(),
      }),
    ).toThrow();

    expect(event.body).toEqual({
      type: 'approval.pending',
      delivery_id: event.headers['x-broker-delivery'],
      approval_id: pending.approvalId,
      console_url: `https://broker.example.com/console/approvals/${pending.approvalId}`,
      approval: await t.broker.approvals.get(pending.approvalId),
    });
    expect(event.body.approval).toMatchObject({
      status: 'pending',
      template: 'reports-admin',
      agent: 'agent-reports',
      on_behalf_of: { sub: 'alice', issuer: t.staffIssuer.issuer },
      group: 'security-oncall',
      required_approvals: 1,
    });
    for (const secret of [pending.agentToken, onBehalfOf, TEST_WEBHOOK_SECRET]) {
      expect(event.raw).not.toContain(secret);
    }
    expect(event.raw).not.toMatch(/"(token|password|secret|credential|session_token)"/i);
  });

  it('is retried with growing delays while the receiver fails and then is down, until it succeeds', async () => {
    const first = receiver.received.length;
    receiver.respond = (n) => (n === first ? 500 : 200);
    const pending = await requestStepUp(t);
    const failed = await receiver.nth(first + 1);

    // Down: connections are refused until it comes back.
    await receiver.stop();
    await vi.waitFor(
      () =>
        expect(notificationLogs(pending.approvalId).filter((l) => l.msg.includes('retrying'))).toHaveLength(
          2,
        ),
      { timeout: 10_000, interval: 50 },
    );
    await receiver.start();
    const delivered = await receiver.nth(first + 2);

    expect(delivered.raw).toBe(failed.raw);
    expect(delivered.headers['x-broker-delivery']).toBe(failed.headers['x-broker-delivery']);
    const logs = notificationLogs(pending.approvalId);
    const retries = logs.filter((l) => l.msg.includes('retrying'));
    expect(retries.map((l) => [l.attempt, l.outcome])).toEqual([
      [1, 'HTTP 500'],
      [2, expect.not.stringMatching(/^HTTP/)],
    ]);
    expect(retries[1]!.retryInMs!).toBeGreaterThan(retries[0]!.retryInMs!);
    await vi.waitFor(() =>
      expect(notificationLogs(pending.approvalId).at(-1)).toMatchObject({
        msg: 'approval notification delivered',
        attempt: 3,
      }),
    );
    // The receiver's URL path may be its own secret: only the origin is logged.
    expect(t.logs.join('\n')).not.toContain('/hooks/approvals');
  });

  it('stops retrying once the request can no longer be approved', async () => {
    const first = receiver.received.length;
    receiver.respond = (n) => {
      // The second attempt fails after the 15-minute approval window has passed.
      if (n === first + 1) t.clock.advance(900);
      return 500;
    };
    const pending = await requestStepUp(t);
    await receiver.nth(first + 2);
    await vi.waitFor(() =>
      expect(notificationLogs(pending.approvalId).at(-1)).toMatchObject({
        msg: 'approval notification failed; giving up',
        attempts: 2,
        outcome: 'HTTP 500',
      }),
    );
    receiver.respond = () => 200;
  });
});
