// The bare-Hono baseline: the same server stack as the broker (@hono/node-server on 127.0.0.1)
// with a handler that parses a JSON body and answers JSON, and nothing else. Started by bench/run.ts.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const port = Number(process.env.PORT ?? '0');
const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.post('/v1/credentials', async (c) => {
  const body = (await c.req.json()) as { template?: string };
  return c.json({ lease_id: '00000000-0000-4000-8000-000000000000', template: body.template ?? null }, 201);
});

const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
