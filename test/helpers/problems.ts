// The one check that a response is an RFC 9457 problem from the broker: its status, the
// problem+json content type, a title and detail, and (when asked) its type and request id.
import { expect } from 'vitest';
import type { ProblemType } from '../../src/problem.js';

// Spelled out, not imported: the wire form is the contract the tests hold the broker to.
const TYPE_PREFIX = 'urn:jit-broker:problem:';

export interface ProblemResponse {
  status: number;
  headers: Headers;
  body: unknown;
  text?: string;
}

export interface ExpectProblemOptions {
  /** The body's request_id must be the X-Request-Id response header. */
  requestId?: boolean;
}

/** `type` is the slug (`not-found`); left out, any broker problem type will do. */
export function expectProblem(
  res: ProblemResponse,
  status: number,
  type?: ProblemType,
  options: ExpectProblemOptions = {},
): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({
    type: type === undefined ? expect.stringMatching(/^urn:jit-broker:problem:/) : `${TYPE_PREFIX}${type}`,
    title: expect.any(String),
    status,
    detail: expect.any(String),
    ...(options.requestId ? { request_id: res.headers.get('x-request-id') } : {}),
  });
}
