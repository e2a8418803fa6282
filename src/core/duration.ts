// Durations in broker.yaml: `90s`, `5m`, `1h`, `1h30m`, or a bare number of seconds.
import { z } from 'zod';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) > 0 ? Number(text) : undefined;
  if (!/^(\d+[smhd])+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhd])/g))
    total += Number(amount) * UNIT_SECONDS[unit!]!;
  return total > 0 ? total : undefined;
}

/** A broker.yaml duration field, as seconds. */
export const durationSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const seconds = parseDuration(v);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (e.g. 90s, 5m, 1h)` });
    return z.NEVER;
  }
  return seconds;
});

/** Every template bounds its credentials' lifetime the same way. */
export const templateTtls = { default_ttl: durationSchema, max_ttl: durationSchema };
