// The schema of POLICY_DIR/broker.yaml: trusted workload issuers, the staff identity provider and
// the templates that bound every credential. Unknown keys are errors, so a typo never silently
// widens or disables a rule.
import { z } from 'zod';
import { parseDuration } from './duration.js';

/** Asymmetric JWS algorithms only: `none` and HS* are never accepted for identity tokens. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const seconds = parseDuration(v);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (e.g. 90s, 5m, 1h)` });
    return z.NEVER;
  }
  return seconds;
});

const httpsOrLocalUrl = z.string().refine((v) => URL.canParse(v), { message: 'must be an absolute URL' });

const algorithm = z
  .string()
  .refine((v): v is AsymmetricAlgorithm => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(v), {
    message: `must be one of ${ASYMMETRIC_ALGORITHMS.join(', ')} (none and HS* are never accepted)`,
  });

const keySource = {
  jwks_uri: httpsOrLocalUrl.optional(),
  jwks_file: z.string().min(1).optional(),
};

function exactlyOneKeySource(
  v: { jwks_uri?: string | undefined; jwks_file?: string | undefined },
  ctx: z.RefinementCtx,
) {
  if ((v.jwks_uri === undefined) === (v.jwks_file === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'set exactly one of jwks_uri or jwks_file', path: ['jwks_uri'] });
  }
}

const attributePath = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const cedarIdentifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

const issuerSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
    issuer: z.string().min(1),
    audience: z.string().min(1),
    ...keySource,
    algorithms: z.array(algorithm).min(1).default(['RS256', 'ES256']),
    attributes: z
      .record(z.string().regex(cedarIdentifier, 'must be a Cedar identifier'), attributePath)
      .default({})
      .refine((a) => !('issuer' in a), { message: '"issuer" is reserved for the issuer name' }),
  })
  .superRefine(exactlyOneKeySource);

const staffSchema = z
  .strictObject({
    issuer: z.string().min(1),
    audience: z.string().min(1),
    ...keySource,
    algorithms: z.array(algorithm).min(1).default(['RS256', 'ES256', 'EdDSA']),
    groups_claim: z.string().min(1).default('groups'),
    client_id: z.string().min(1).optional(),
  })
  .superRefine(exactlyOneKeySource);

const ttls = { default_ttl: duration, max_ttl: duration };

/** Per-template quota, lower than `limits.live_leases_per_agent` (checked below). */
const templateLimits = { max_live_leases_per_agent: z.number().int().min(1).max(1_000_000).optional() };

export const DEFAULT_LIVE_LEASES_PER_AGENT = 10_000;

const limitsSchema = z.strictObject({
  live_leases_per_agent: z.number().int().min(1).max(1_000_000).default(DEFAULT_LIVE_LEASES_PER_AGENT),
  /** 0 = off. */
  issuances_per_minute_per_agent: z.number().int().min(0).max(1_000_000).default(0),
});

const jwtTemplate = z.strictObject({
  provider: z.literal('jwt'),
  audience: z.string().min(1),
  scopes: z
    .array(
      z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is printable ASCII without spaces, " or \\'),
    )
    .min(1),
  ...ttls,
  ...templateLimits,
});

export const PG_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;
export type PgPrivilege = (typeof PG_PRIVILEGES)[number];

const postgresTemplate = z.strictObject({
  provider: z.literal('postgres'),
  target: z
    .string()
    .regex(/^[a-z0-9_]{1,48}$/, 'lower-case letters, digits and _ (the TARGET_<NAME>_URL name)'),
  privileges: z
    .partialRecord(z.enum(PG_PRIVILEGES), z.array(z.string().min(3).max(200)).min(1))
    .refine((p) => Object.keys(p).length > 0, { message: 'grant at least one privilege' }),
  connection_limit: z.number().int().min(1).max(100).default(5),
  ...ttls,
  ...templateLimits,
});

const awsStsTemplate = z.strictObject({
  provider: z.literal('aws_sts'),
  role_arn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\-/]{1,512}$/, 'must be an IAM role ARN'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1'),
  actions: z
    .array(z.string().regex(/^([a-z0-9-]+:[A-Za-z0-9*?]+|\*)$/, 'must be an IAM action such as s3:GetObject'))
    .min(1),
  resources: z.array(z.string().min(1)).min(1),
  ...ttls,
  ...templateLimits,
});

const templateSchema = z
  .discriminatedUnion('provider', [jwtTemplate, postgresTemplate, awsStsTemplate])
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

export const brokerYamlSchema = z.strictObject({
  issuers: z
    .array(issuerSchema)
    .min(1)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((i, index) => {
        if (seen.has(i.name))
          ctx.addIssue({
            code: 'custom',
            message: `duplicate issuer name "${i.name}"`,
            path: [index, 'name'],
          });
        seen.add(i.name);
      });
    }),
  staff: staffSchema.optional(),
  limits: limitsSchema.default({
    live_leases_per_agent: DEFAULT_LIVE_LEASES_PER_AGENT,
    issuances_per_minute_per_agent: 0,
  }),
  templates: z.record(
    z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - (at most 64)'),
    templateSchema,
  ),
}).superRefine((config, ctx) => {
  // A template may only lower the agent's live-lease limit.
  for (const [name, t] of Object.entries(config.templates)) {
    const cap = t.max_live_leases_per_agent;
    if (cap !== undefined && cap > config.limits.live_leases_per_agent)
      ctx.addIssue({
        code: 'custom',
        message: `exceeds limits.live_leases_per_agent (${config.limits.live_leases_per_agent}); a template may only lower it`,
        path: ['templates', name, 'max_live_leases_per_agent'],
      });
  }
});

export type BrokerYaml = z.output<typeof brokerYamlSchema>;
export type IssuerConfig = z.output<typeof issuerSchema>;
export type StaffConfig = z.output<typeof staffSchema>;
export type LimitsConfig = z.output<typeof limitsSchema>;

type TemplateBody = z.output<typeof templateSchema>;
/** A template with its name attached; TTLs are seconds. */
export type Template = TemplateBody & { name: string };
export type JwtTemplate = Extract<Template, { provider: 'jwt' }>;
export type PostgresTemplate = Extract<Template, { provider: 'postgres' }>;
export type AwsStsTemplate = Extract<Template, { provider: 'aws_sts' }>;
export type ProviderKind = Template['provider'];
