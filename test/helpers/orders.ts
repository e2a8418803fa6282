// The postgres template the tests that cut a target's connection share: SELECT on the demo orders
// tables of a target named "orders", and a request for one task.
import { credentialRequest } from './broker.js';

export const ORDERS_TEMPLATE = {
  provider: 'postgres',
  target: 'orders',
  privileges: { SELECT: ['public.orders', 'public.customers'] },
  default_ttl: '5m',
  max_ttl: '30m',
};

export const ORDERS_POLICY = `@id("reports-agents-read-orders")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"orders-db")
when { principal has namespace && principal.namespace == "reports" };
`;

export const ordersRequest = (taskId: string) =>
  credentialRequest(
    { template: 'orders-db' },
    { task_id: taskId, actions: ['SELECT'], resources: ['public.orders'] },
  );
