// The broker.yaml shape of a postgres template: the target and the privilege → tables ceiling.
import { z } from 'zod';
import { templateTtls } from '../../core/duration.js';

export const PG_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;
export type PgPrivilege = (typeof PG_PRIVILEGES)[number];

export const postgresTemplateSchema = z.strictObject({
  provider: z.literal('postgres'),
  target: z
    .string()
    .regex(/^[a-z0-9_]{1,48}$/, 'lower-case letters, digits and _ (the TARGET_<NAME>_URL name)'),
  privileges: z
    .partialRecord(z.enum(PG_PRIVILEGES), z.array(z.string().min(3).max(200)).min(1))
    .refine((p) => Object.keys(p).length > 0, { message: 'grant at least one privilege' }),
  connection_limit: z.number().int().min(1).max(100).default(5),
  ...templateTtls,
});
