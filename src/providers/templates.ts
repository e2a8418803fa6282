// A template is the ceiling of every credential minted from it. Each provider declares its own
// template shape beside its code; this is their union, as broker.yaml's `templates:` reads it.
import { z } from 'zod';
import { awsStsTemplateSchema } from './aws-sts/template.js';
import { jwtTemplateSchema } from './jwt/template.js';
import { postgresTemplateSchema } from './postgres/template.js';

/** Per-template quota, lower than broker.yaml's `limits.live_leases_per_agent` (checked there). */
const templateLimits = { max_live_leases_per_agent: z.number().int().min(1).max(1_000_000).optional() };

export const templateSchema = z
  .discriminatedUnion('provider', [
    jwtTemplateSchema.extend(templateLimits),
    postgresTemplateSchema.extend(templateLimits),
    awsStsTemplateSchema.extend(templateLimits),
  ])
  .superRefine((t, ctx) => {
    if (t.default_ttl > t.max_ttl)
      ctx.addIssue({ code: 'custom', message: 'default_ttl exceeds max_ttl', path: ['default_ttl'] });
    if (t.provider === 'aws_sts') {
      // STS refuses DurationSeconds under 900 and over 43200 (12 h, the largest role maximum).
      if (t.default_ttl < 900)
        ctx.addIssue({ code: 'custom', message: 'STS minimum is 900 seconds', path: ['default_ttl'] });
      if (t.max_ttl > 43200)
        ctx.addIssue({ code: 'custom', message: 'STS maximum is 43200 seconds', path: ['max_ttl'] });
    }
  });

type TemplateBody = z.output<typeof templateSchema>;
/** A template with its name attached; TTLs are seconds. */
export type Template = TemplateBody & { name: string };
export type JwtTemplate = Extract<Template, { provider: 'jwt' }>;
export type PostgresTemplate = Extract<Template, { provider: 'postgres' }>;
export type AwsStsTemplate = Extract<Template, { provider: 'aws_sts' }>;
export type ProviderKind = Template['provider'];
