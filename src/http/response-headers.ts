// Headers added to a response after its handler built it (request id, cache policy, nosniff).
// Hono's `c.header()` on a finished response rebuilds it as a full web Response around a body
// stream, which the Node adapter then has to pump: about 5% of an issuance's CPU for three headers.
// The response's own headers are mutable (the broker never forwards a fetch() response), so they
// are set in place; an immutable one (should a handler ever return one) falls back to c.header().
import type { Context } from 'hono';

export function setResponseHeader(c: Context, name: string, value: string): void {
  try {
    c.res.headers.set(name, value);
  } catch {
    c.header(name, value);
  }
}
