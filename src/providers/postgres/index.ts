// The postgres provider's public surface: the factory, its options and the grant it stores.

export type { QualifiedName } from './identifiers.js';
export {
  createPostgresProvider,
  type PgRevocation,
  type PostgresIssued,
  type PostgresProvider,
  type PostgresProviderOptions,
} from './postgres-provider.js';
export type { PgGrant } from './scope.js';
