// Who is asking: a workload (agent) vouched for by a trusted issuer, or a human from the staff IdP.

/** A Cedar attribute value mapped from a token claim. */
export type AttributeValue = string | number | boolean | AttributeValue[] | { [key: string]: AttributeValue };

export interface WorkloadIdentity {
  /** `sub` of the workload token: the Cedar principal `Agent::"<subject>"`. */
  subject: string;
  /** The configured `name` of the issuer that signed the token. */
  issuer: string;
  /** Attributes mapped by the issuer's `attributes:` configuration (missing claims are absent). */
  attributes: Record<string, AttributeValue>;
  /** `exp` of the presented token. */
  expiresAt: Date;
}

export interface HumanIdentity {
  subject: string;
  /** `iss` of the staff token. */
  issuer: string;
  groups: string[];
  name?: string;
  email?: string;
}
