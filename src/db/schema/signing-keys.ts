// The broker's own JWT signing keys. Private keys are stored encrypted with BROKER_MASTER_KEY
// (AES-256-GCM); public JWKs are served at /.well-known/jwks.json until every token they signed
// has expired.
import { customType, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

export const signingKeys = pgTable('signing_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  publicJwk: jsonb('public_jwk').$type<Record<string, unknown>>().notNull(),
  /** iv (12) || tag (16) || ciphertext of the private JWK JSON. */
  privateKeyEnc: bytea('private_key_enc').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  /** Set when a newer key became current; the key keeps verifying until `publishUntil`. */
  retiredAt: timestamp('retired_at', { withTimezone: true }),
  publishUntil: timestamp('publish_until', { withTimezone: true }),
});

export type SigningKey = typeof signingKeys.$inferSelect;
