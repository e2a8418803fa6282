export * from './approvals.js';
export * from './audit-events.js';
export * from './lease-usage.js';
export * from './leases.js';
export * from './signing-keys.js';
export * from './webhook-deliveries.js';
