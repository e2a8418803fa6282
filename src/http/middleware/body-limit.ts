// Request bodies over 64 KiB are refused with 413 before anything parses them.
import { bodyLimit } from 'hono/body-limit';
import type { MiddlewareHandler } from 'hono';
import { payloadTooLarge } from '../problem-response.js';
import type { AppEnv } from '../env.js';

export const MAX_BODY_BYTES = 64 * 1024;

export function limitBody(): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw payloadTooLarge();
    },
  });
}
