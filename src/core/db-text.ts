// Strings that PostgreSQL can store: no U+0000 (text and jsonb refuse it) and no unpaired UTF-16
// surrogate (jsonb refuses the \ud800 escape JSON.stringify writes for one). Every request schema
// whose strings can reach the database builds on `dbText()`, so such input is a 400 naming the
// field at the edge instead of a 500 from the driver.
import { z } from 'zod';

export const DB_TEXT_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/** A high surrogate not followed by a low one, or a low one not preceded by a high one (no `u` flag: code units). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

export function isDbText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

/** z.string() that only accepts text PostgreSQL can store; chain .min/.max/.regex as usual. */
export function dbText() {
  return z.string().refine(isDbText, { message: DB_TEXT_MESSAGE });
}

/**
 * For free text that must not stop an action (an anomaly report's reason): NUL and unpaired
 * surrogates become U+FFFD. Never for selectors, ids or anything compared: those are refused.
 */
export function sanitizeDbText(value: string): string {
  return value.replace(LONE_SURROGATES, '\uFFFD').replaceAll('\u0000', '\uFFFD');
}
