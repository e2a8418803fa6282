// The outcome of evaluating a request: what a route renders and what the audit log records.

export interface StepUp {
  group: string;
  approvals: number;
  approvalTtlSeconds: number;
}

export type Decision =
  | {
      outcome: 'deny';
      /** Ids of the policies that decided (the forbids that matched, or none when no permit did). */
      policies: string[];
      reasons: string[];
      policyVersion: string;
    }
  | {
      outcome: 'allow';
      /** Ids of the satisfied permits. */
      policies: string[];
      /** Smallest @max_ttl of the satisfied permits. */
      maxTtlSeconds: number | undefined;
      /** Present when a satisfied permit carries @step_up and the request is not yet approved. */
      stepUp: StepUp | undefined;
      policyVersion: string;
    };
