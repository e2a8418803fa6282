// Delivery ids of accepted webhooks, kept past the signature window so a replay is refused by
// the primary key on any replica.
import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const webhookDeliveries = pgTable('webhook_deliveries', {
  deliveryId: text('delivery_id').primaryKey(),
  receivedAt: timestamp('received_at', { withTimezone: true }).notNull(),
});
