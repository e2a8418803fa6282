// The problems a webhook call can be refused with. 401s never say which secret was tried or what
// the expected signature was; the detail names the check that failed, so a caller can fix it.
import { type Problem, problems } from '../problem.js';

export const badDeliveryId = (message: string): Problem =>
  problems.badRequest(`X-Broker-Delivery ${message}`, {
    errors: [{ field: 'headers.x-broker-delivery', message }],
  });
