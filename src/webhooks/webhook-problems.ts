// The problems a webhook call can be refused with. 401s never say which secret was tried or what
// the expected signature was; the detail names the check that failed, so a caller can fix it.
import { Problem, problems } from '../problem.js';

export const invalidSignature = (detail: string): Problem =>
  new Problem({ status: 401, type: 'invalid-signature', title: 'Unauthorized', detail });

export const replayedDelivery = (detail: string): Problem =>
  new Problem({ status: 401, type: 'replayed-delivery', title: 'Unauthorized', detail });

export const badDeliveryId = (message: string): Problem =>
  problems.badRequest(`X-Broker-Delivery ${message}`, [{ field: 'headers.x-broker-delivery', message }]);
