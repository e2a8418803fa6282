// The broker.yaml shape of a jwt template: the audience and the scopes a minted token may carry.
import { z } from 'zod';
import { templateTtls } from '../../core/duration.js';

export const jwtTemplateSchema = z.strictObject({
  provider: z.literal('jwt'),
  audience: z.string().min(1),
  scopes: z
    .array(
      z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is printable ASCII without spaces, " or \\'),
    )
    .min(1),
  ...templateTtls,
});
