// The schema of POLICY_DIR/broker.yaml: trusted workload issuers, the staff identity provider,
// per-agent limits and the templates that bound every credential. Unknown keys are errors, so a typo never silently
// widens or disables a rule.
import { z } from 'zod';
import { durationSchema } from '../core/duration.js';
import { templateSchema } from '../providers/templates.js';

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

/**
 * Longest life (exp - iat) a token of this issuer may claim; default 24 h. A token that claims to
 * live for ten years (or 1e308 seconds) is refused rather than trusted for as long as it says.
 */
const maxTokenLifetime = durationSchema
  .refine((s) => s <= 366 * 86400, { message: 'must be at most 366 days' })
  .optional();

const issuerSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
    issuer: z.string().min(1),
    audience: z.string().min(1),
    ...keySource,
    algorithms: z.array(algorithm).min(1).default(['RS256', 'ES256']),
    max_token_lifetime: maxTokenLifetime,
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
    max_token_lifetime: maxTokenLifetime,
    groups_claim: z.string().min(1).default('groups'),
    client_id: z.string().min(1).optional(),
  })
  .superRefine(exactlyOneKeySource);

export const DEFAULT_LIVE_LEASES_PER_AGENT = 10_000;

const limitsSchema = z.strictObject({
  live_leases_per_agent: z.number().int().min(1).max(1_000_000).default(DEFAULT_LIVE_LEASES_PER_AGENT),
  /** 0 = off. */
  issuances_per_minute_per_agent: z.number().int().min(0).max(1_000_000).default(0),
});

/**
 * A resource server allowed to call /v1/introspect (RFC 7662 §2.1): HTTP Basic (or
 * client_secret_post) with a secret whose hex sha256 is kept here, or private_key_jwt (RFC 7523
 * §2.2) with its JWKS. It only ever learns about tokens minted for its own `audience`.
 */
const resourceServerSchema = z
  .strictObject({
    client_id: z.string().regex(/^[\x21-\x7e]{1,128}$/, 'printable ASCII without spaces (at most 128)'),
    client_secret_sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'the hex sha256 of the secret (64 hex digits), never the secret itself')
      .transform((v) => v.toLowerCase())
      .optional(),
    ...keySource,
    audience: z.string().min(1),
  })
  .superRefine((v, ctx) => {
    const ways = [v.client_secret_sha256, v.jwks_uri, v.jwks_file].filter((w) => w !== undefined).length;
    if (ways !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'set exactly one of client_secret_sha256, jwks_uri or jwks_file',
        path: ['client_secret_sha256'],
      });
    }
  });

export const brokerYamlSchema = z
  .strictObject({
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
    /** How many token exchanges a delegation chain may add to a workload's own token. */
    max_delegation_depth: z.number().int().min(0).max(16).default(2),
    resource_servers: z
      .array(resourceServerSchema)
      .default([])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((rs, index) => {
          if (seen.has(rs.client_id)) {
            ctx.addIssue({
              code: 'custom',
              message: `duplicate client_id "${rs.client_id}"`,
              path: [index, 'client_id'],
            });
          }
          seen.add(rs.client_id);
        });
      }),
    templates: z.record(
      z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - (at most 64)'),
      templateSchema,
    ),
  })
  .superRefine((config, ctx) => {
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
export type ResourceServerConfig = z.output<typeof resourceServerSchema>;
