// Start-up and reload checks that need more than the policy directory itself: that each
// template's provider is available and configured, and that each issuer's (and each resource
// server's) key source is usable.
import { checkKeySource } from './identity/key-sources.js';
import { checkWorkloadIssuers } from './identity/workload-verifier.js';
import type { PolicySet } from './policy/policy-set.js';
import type { Template } from './providers/templates.js';
import type { ProviderRegistry } from './providers/types.js';

export function policyChecks(providers: ProviderRegistry) {
  return {
    checkTemplate: (template: Template): string[] => {
      const provider = providers[template.provider];
      if (!provider) return [`provider "${template.provider}" is not available on this broker`];
      return provider.checkTemplate(template);
    },
    extraChecks: async (set: PolicySet): Promise<string[]> => {
      const problems = checkWorkloadIssuers(set.issuers).map((p) => `broker.yaml: issuers: ${p}`);
      for (const issuer of set.issuers) {
        for (const p of await checkKeySource(set.dir, issuer))
          problems.push(`broker.yaml: issuers.${issuer.name}: ${p}`);
      }
      if (set.staff)
        for (const p of await checkKeySource(set.dir, set.staff)) problems.push(`broker.yaml: staff: ${p}`);
      for (const rs of set.config.resource_servers) {
        if (rs.client_secret_sha256 !== undefined) continue;
        for (const p of await checkKeySource(set.dir, rs))
          problems.push(`broker.yaml: resource_servers.${rs.client_id}: ${p}`);
      }
      return problems;
    },
  };
}
