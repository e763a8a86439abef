/**
 * One-time tokens: the secret in a verification or password-reset link. `<id>.<secret>`, the secret 256 bits
 * from the CSPRNG. Only the secret's SHA-256 is stored; the row is found by its id and the hashes compared in
 * constant time. A token is bound to one user and one purpose, lives a short while, is spent by its first use,
 * and is withdrawn by a newer token of the same purpose and by a password change. Every way a token can be
 * wrong (malformed, unknown, another purpose, expired, spent, altered) is the same answer, so none tells an
 * attacker more than another.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '@todo/platform/db';
import { BadRequestError } from '@todo/platform/errors';

export type TokenPurpose = 'verify_email' | 'reset_password';

const SECRET_BYTES = 32;
const TOKEN = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

const digest = (secret: Buffer) => createHash('sha256').update(secret).digest();

const invalidToken = () =>
  new BadRequestError(
    'This link is not valid: it may have expired, been used already, or been replaced by a newer one. Ask for a new one.',
    'invalid_one_time_token',
  );

/** Makes a token for `userId` and `purpose`, withdrawing the user's earlier ones of that purpose. */
export async function issueOneTimeToken(
  tx: EntityManager,
  {
    userId,
    purpose,
    ttlSeconds,
    now = new Date(),
  }: { userId: string; purpose: TokenPurpose; ttlSeconds: number; now?: Date },
): Promise<string> {
  const id = newId();
  const secret = randomBytes(SECRET_BYTES);
  await tx.execute('delete from auth.one_time_tokens where user_id = ? and purpose = ?', [userId, purpose]);
  await tx.execute(
    'insert into auth.one_time_tokens (id, user_id, purpose, secret_hash, created_at, expires_at) values (?, ?, ?, ?, ?, ?)',
    [id, userId, purpose, digest(secret), now, new Date(now.getTime() + ttlSeconds * 1000)],
  );
  return `${id}.${secret.toString('base64url')}`;
}

interface TokenRow {
  user_id: string;
  purpose: string;
  secret_hash: Buffer;
  expires_at: Date;
  used_at: Date | null;
}

/**
 * The user a live token of `purpose` belongs to; with `spend`, also marks it used, under its row lock, so two
 * requests with one token cannot both pass. Anything else is `invalidToken()`.
 */
export async function checkOneTimeToken(
  em: EntityManager,
  token: string,
  purpose: TokenPurpose,
  { spend = false, now = new Date() }: { spend?: boolean; now?: Date } = {},
): Promise<string> {
  const parts = TOKEN.exec(token);
  const [, id, secret] = parts ?? [];
  if (!id || !secret) throw invalidToken();
  const secretBytes = Buffer.from(secret, 'base64url');
  // 43 characters carry 258 bits for 256: the last one has four spellings of the same bytes. Only the one we
  // wrote is the token.
  if (secretBytes.toString('base64url') !== secret) throw invalidToken();
  const [row] = await em.execute<TokenRow[]>(
    `select user_id, purpose, secret_hash, expires_at, used_at from auth.one_time_tokens where id = ?${spend ? ' for update' : ''}`,
    [id],
  );
  const presented = digest(secretBytes);
  // Compared whatever the row says, so a known id with a wrong secret costs what any other miss costs.
  const matches = timingSafeEqual(presented, row ? Buffer.from(row.secret_hash) : Buffer.alloc(presented.length));
  if (!row || !matches || row.purpose !== purpose || row.used_at !== null || new Date(row.expires_at) <= now) {
    throw invalidToken();
  }
  if (spend) await em.execute('update auth.one_time_tokens set used_at = ? where id = ?', [now, id]);
  return row.user_id;
}

/** Withdraws every token of the user (a password change: a reset link sent before it must not work after). */
export async function withdrawOneTimeTokens(tx: EntityManager, userId: string): Promise<void> {
  await tx.execute('delete from auth.one_time_tokens where user_id = ?', [userId]);
}
