// The broker's JWT signing keys, shared by every replica through the signing_keys table: creates
// the first key, rotates, and keeps the decrypted current key and the published public keys in
// memory so that signing and verifying never touch the database or re-import a key.
import { eq, gt, isNull, or, sql } from 'drizzle-orm';
import { type CryptoKey, errors, type JWTHeaderParameters, type JWTPayload, jwtVerify } from 'jose';
import type { Clock } from '../../clock.js';
import type { Database } from '../../db/client.js';
import { signingKeys } from '../../db/schema/index.js';
import type { Logger } from '../../logger.js';
import {
  generateSigningKey,
  importPrivateKey,
  importPublicKey,
  isSigningAlgorithm,
  type PublicSigningJwk,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  toPublicJwk,
} from './signing-key.js';

// Fixed 64-bit advisory lock key ("jitkeys"): serialises key creation and rotation across replicas.
const SIGNING_KEYS_LOCK_KEY = 0x6a69746b657973n;

/** A token naming a kid we do not know triggers at most one re-read of the table per this period. */
const UNKNOWN_KID_REFRESH_COOLDOWN_MS = 10_000;

export interface CurrentSigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Non-extractable. */
  readonly privateKey: CryptoKey;
}

/** What an operator may see about a key: never key material. */
export interface SigningKeyInfo {
  kid: string;
  alg: SigningAlgorithm;
  createdAt: Date;
  retiredAt: Date | null;
  publishUntil: Date | null;
}

export interface KeyStoreOptions {
  database: Database;
  /** 32 bytes: config.masterKey, or loadOrCreateDevMasterKey(). */
  masterKey: Buffer;
  clock: Clock;
  logger: Logger;
  /** Algorithm of keys this store creates (the first key and rotations). Default EdDSA. */
  alg?: SigningAlgorithm;
}

interface PublishedKey extends SigningKeyInfo {
  jwk: Readonly<PublicSigningJwk>;
  verifyKey: CryptoKey;
}

interface KeyState {
  current: CurrentSigningKey;
  /** Current key first, then retired keys, newest first. */
  keys: PublishedKey[];
  byKid: Map<string, PublishedKey>;
}

function sameTime(a: Date | null, b: Date | null): boolean {
  return (a?.getTime() ?? null) === (b?.getTime() ?? null);
}

export class KeyStore {
  readonly #database: Database;
  readonly #masterKey: Buffer;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #alg: SigningAlgorithm;
  #state: KeyState | undefined;
  #refreshing: Promise<void> | undefined;
  /**
   * When an unknown kid last caused a re-read. Only those count: the periodic refresh (every sweep)
   * must not reset the cooldown, or a key rotated since the last sweep would never be looked up.
   */
  #lastUnknownKidRefreshMs = Number.NEGATIVE_INFINITY;

  private constructor(options: KeyStoreOptions & { alg: SigningAlgorithm }) {
    this.#database = options.database;
    this.#masterKey = options.masterKey;
    this.#clock = options.clock;
    this.#logger = options.logger.child({ component: 'key-store' });
    this.#alg = options.alg;
  }

  /** Creates the first key when there is no current one (once, even with replicas racing), then loads. */
  static async open(options: KeyStoreOptions): Promise<KeyStore> {
    const alg = options.alg ?? 'EdDSA';
    if (!isSigningAlgorithm(alg)) {
      throw new TypeError(`KeyStore: option "alg" must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
    }
    if (!Buffer.isBuffer(options.masterKey) || options.masterKey.length !== 32) {
      throw new TypeError('KeyStore: option "masterKey" must be a 32-byte Buffer');
    }
    const store = new KeyStore({ ...options, alg });
    await store.#ensureCurrentKey();
    await store.refresh();
    return store;
  }

  /** The key new tokens are signed with. */
  currentKey(): CurrentSigningKey {
    return this.#loaded().current;
  }

  /** The JWKS: the current key and every retired key still inside its publication window. */
  jwks(): { keys: PublicSigningJwk[] } {
    const now = this.#clock.now().getTime();
    return {
      keys: this.#loaded()
        .keys.filter((k) => isPublished(k, now))
        .map((k) => ({ ...k.jwk })),
    };
  }

  /** Metadata of the loaded keys (current and still-published retired ones) for operators. */
  keyInfo(): SigningKeyInfo[] {
    return this.#loaded().keys.map(({ kid, alg, createdAt, retiredAt, publishUntil }) => ({
      kid,
      alg,
      createdAt,
      retiredAt,
      publishUntil,
    }));
  }

  /**
   * Makes a new key current. The previous one keeps verifying (and stays in the JWKS) for
   * `maxTokenLifetimeSeconds`, by when every token it signed has expired.
   */
  async rotate(maxTokenLifetimeSeconds: number): Promise<string> {
    if (!Number.isInteger(maxTokenLifetimeSeconds) || maxTokenLifetimeSeconds <= 0) {
      throw new TypeError('rotate: maxTokenLifetimeSeconds must be a positive integer');
    }
    const key = await generateSigningKey(this.#alg, this.#masterKey);
    const now = this.#clock.now();
    const publishUntil = new Date(now.getTime() + maxTokenLifetimeSeconds * 1000);
    const retired = await this.#database.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEYS_LOCK_KEY.toString()}::bigint)`);
      const previous = await tx
        .update(signingKeys)
        .set({ retiredAt: now, publishUntil })
        .where(isNull(signingKeys.retiredAt))
        .returning({ kid: signingKeys.kid });
      await tx.insert(signingKeys).values({ ...key, createdAt: now });
      return previous.map((p) => p.kid);
    });
    this.#logger.info(
      { kid: key.kid, alg: key.alg, retired, publishUntil: publishUntil.toISOString() },
      'rotated the JWT signing key',
    );
    await this.refresh();
    return key.kid;
  }

  /**
   * Re-reads the table (another replica or `keys:rotate` may have rotated). One small query;
   * keys are imported only when new, the private key only when the current key changed.
   */
  async refresh(): Promise<void> {
    // Serialised rather than shared: a caller that just rotated must see its own rotation, which a
    // reload already in flight (its query sent before the commit) would miss.
    const run = (this.#refreshing ?? Promise.resolve()).catch(() => {}).then(() => this.#reload());
    this.#refreshing = run;
    try {
      await run;
    } finally {
      if (this.#refreshing === run) this.#refreshing = undefined;
    }
  }

  /**
   * Verifies a token minted with one of the published keys, at the clock's time; undefined when
   * it is not ours, altered, expired or otherwise invalid. Says nothing about the lease.
   * `typ` is `JWT` (an access token) unless the caller also accepts others (a transaction token).
   */
  async verify(token: string, typs: readonly string[] = ['JWT']): Promise<JWTPayload | undefined> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, (header) => this.#verificationKey(header), {
        algorithms: [...SIGNING_ALGORITHMS],
        currentDate: this.#clock.now(),
        requiredClaims: ['exp', 'jti'],
      });
      if (protectedHeader.typ === undefined || !typs.includes(protectedHeader.typ)) return undefined;
      return payload;
    } catch (error) {
      if (error instanceof errors.JOSEError) return undefined;
      throw error;
    }
  }

  async #verificationKey(header: JWTHeaderParameters): Promise<CryptoKey> {
    const kid = header.kid;
    if (kid === undefined) throw new errors.JWKSNoMatchingKey();
    let key = this.#publishedKey(kid);
    if (key === undefined) {
      // A replica that has not yet re-read the table does not know a freshly rotated key. Re-read,
      // but rarely: a stream of tokens with made-up kids must not become a stream of queries.
      const nowMs = this.#clock.now().getTime();
      const inFlight = this.#refreshing;
      if (
        inFlight !== undefined ||
        nowMs - this.#lastUnknownKidRefreshMs >= UNKNOWN_KID_REFRESH_COOLDOWN_MS
      ) {
        this.#lastUnknownKidRefreshMs = nowMs;
        try {
          await (inFlight ?? this.refresh());
        } catch (error) {
          this.#logger.warn({ err: error }, 'could not re-read signing keys while verifying a token');
        }
        key = this.#publishedKey(kid);
      }
    }
    if (key === undefined || key.alg !== header.alg) throw new errors.JWKSNoMatchingKey();
    return key.verifyKey;
  }

  #publishedKey(kid: string): PublishedKey | undefined {
    const key = this.#loaded().byKid.get(kid);
    return key !== undefined && isPublished(key, this.#clock.now().getTime()) ? key : undefined;
  }

  #loaded(): KeyState {
    if (this.#state === undefined) throw new Error('KeyStore used before open() completed');
    return this.#state;
  }

  async #ensureCurrentKey(): Promise<void> {
    const db = this.#database.db;
    const existing = await db
      .select({ kid: signingKeys.kid })
      .from(signingKeys)
      .where(isNull(signingKeys.retiredAt))
      .limit(1);
    if (existing.length > 0) return;
    const key = await generateSigningKey(this.#alg, this.#masterKey);
    const created = await db.transaction(async (tx) => {
      // Replicas starting together all see an empty table; the lock makes the check-then-insert
      // atomic, so exactly one of them creates the key.
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEYS_LOCK_KEY.toString()}::bigint)`);
      const again = await tx
        .select({ kid: signingKeys.kid })
        .from(signingKeys)
        .where(isNull(signingKeys.retiredAt))
        .limit(1);
      if (again.length > 0) return false;
      await tx.insert(signingKeys).values({ ...key, createdAt: this.#clock.now() });
      return true;
    });
    if (created) this.#logger.info({ kid: key.kid, alg: key.alg }, 'created the first JWT signing key');
  }

  async #reload(): Promise<void> {
    const now = this.#clock.now();
    const rows = await this.#database.db
      .select({
        kid: signingKeys.kid,
        alg: signingKeys.alg,
        publicJwk: signingKeys.publicJwk,
        createdAt: signingKeys.createdAt,
        retiredAt: signingKeys.retiredAt,
        publishUntil: signingKeys.publishUntil,
      })
      .from(signingKeys)
      .where(or(isNull(signingKeys.retiredAt), gt(signingKeys.publishUntil, now)));

    const currentRows = rows
      .filter((r) => r.retiredAt === null)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.kid < b.kid ? -1 : 1));
    const currentRow = currentRows[0];
    if (currentRow === undefined) {
      throw new Error(
        'signing_keys has no current key (every key is retired): run keys:rotate or restart the broker',
      );
    }
    if (currentRows.length > 1) {
      this.#logger.warn(
        { kids: currentRows.map((r) => r.kid) },
        'several current signing keys; signing with the newest',
      );
    }

    const previous = this.#state;
    if (previous !== undefined && unchanged(previous, rows, currentRow.kid)) return;

    const keys: PublishedKey[] = [];
    for (const row of rows) {
      if (!isSigningAlgorithm(row.alg))
        throw new Error(`signing key ${row.kid}: unsupported alg "${row.alg}"`);
      const known = previous?.byKid.get(row.kid);
      const jwk = known?.jwk ?? Object.freeze(toPublicJwk(row.publicJwk, row.kid, row.alg));
      const verifyKey = known?.verifyKey ?? (await importPublicKey(jwk));
      const { kid, createdAt, retiredAt, publishUntil } = row;
      keys.push({ kid, alg: row.alg, createdAt, retiredAt, publishUntil, jwk, verifyKey });
    }
    keys.sort(
      (a, b) =>
        rank(a, currentRow.kid) - rank(b, currentRow.kid) || b.createdAt.getTime() - a.createdAt.getTime(),
    );

    let current = previous?.current;
    if (current?.kid !== currentRow.kid) {
      const alg = currentRow.alg as SigningAlgorithm;
      const [sealed] = await this.#database.db
        .select({ privateKeyEnc: signingKeys.privateKeyEnc })
        .from(signingKeys)
        .where(eq(signingKeys.kid, currentRow.kid));
      if (sealed === undefined) throw new Error(`signing key ${currentRow.kid} disappeared while loading`);
      const privateKey = await importPrivateKey(this.#masterKey, currentRow.kid, alg, sealed.privateKeyEnc);
      current = Object.freeze({ kid: currentRow.kid, alg, privateKey });
      if (previous !== undefined)
        this.#logger.info({ kid: current.kid, alg }, 'now signing with a new JWT signing key');
    }
    // Swapped in one assignment: a failed reload (wrong master key, database down) keeps the old keys.
    this.#state = { current, keys, byKid: new Map(keys.map((k) => [k.kid, k])) };
  }
}

function isPublished(key: SigningKeyInfo, nowMs: number): boolean {
  return key.retiredAt === null || (key.publishUntil !== null && key.publishUntil.getTime() > nowMs);
}

function rank(key: SigningKeyInfo, currentKid: string): number {
  return key.kid === currentKid ? 0 : 1;
}

function unchanged(
  state: KeyState,
  rows: Pick<SigningKeyInfo, 'kid' | 'retiredAt' | 'publishUntil'>[],
  currentKid: string,
): boolean {
  if (state.current.kid !== currentKid || state.keys.length !== rows.length) return false;
  return rows.every((row) => {
    const known = state.byKid.get(row.kid);
    return (
      known !== undefined &&
      sameTime(known.retiredAt, row.retiredAt) &&
      sameTime(known.publishUntil, row.publishUntil)
    );
  });
}
