// Request bodies over 64 KiB are refused with 413 before anything parses them.
//
// A declared Content-Length is checked from the header alone: Node's HTTP parser delivers exactly
// that many bytes (and refuses a request that also sends Transfer-Encoding), so the body is then
// read by @hono/node-server's direct path, without building a web `Request` and stream for it
// (which cost ~10% of an issuance's CPU). Only a chunked body, whose size is unknown until it
// ends (or a body handed over in process, without either header), goes through Hono's counting
// stream.

import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../env.js';
import { payloadTooLarge } from '../problem-response.js';

export const MAX_BODY_BYTES = 64 * 1024;

export function limitBody(): MiddlewareHandler<AppEnv> {
  const counting = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw payloadTooLarge();
    },
  });
  return async (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD') return next();
    const declared = c.req.header('content-length');
    if (declared !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number.parseInt(declared, 10) > MAX_BODY_BYTES) throw payloadTooLarge();
      return next();
    }
    return counting(c, next);
  };
}
