/** Idempotency keys, per owner: the owner is the first argument of every method but the expiry sweep. */
import type { EntityManager } from '@mikro-orm/postgresql';

const KEY_LIFETIME = '24 hours';

export interface StoredRequest<T> {
  requestHash: string;
  /** Null while the request that claimed the key is still running. */
  response: T | null;
}

export class IdempotencyKeyRepository {
  readonly #em: EntityManager;

  constructor(em: EntityManager) {
    this.#em = em;
  }

  /**
   * Claims the key for this request, or takes over one that expired: `claimed`. `taken` when an earlier
   * request holds it; `busy` when that request is still running (its claim is not committed) after
   * `waitMs`, which leaves the transaction aborted. Call inside a transaction: the claim commits with it.
   */
  async claim(
    ownerId: string,
    key: string,
    requestHash: string,
    waitMs: number,
  ): Promise<'claimed' | 'taken' | 'busy'> {
    try {
      // `set local`: the wait applies to this transaction only. A lock timeout aborts the transaction, so the
      // caller must end it after `busy` (createTodo answers 409 and rolls back).
      await this.#em.execute(`set local lock_timeout = ${Math.max(1, Math.floor(waitMs))}`);
      const rows = await this.#em.execute(
        `insert into todo.idempotency_keys (owner_id, key, request_hash, created_at, expires_at)
         values (?, ?, ?, now(), now() + interval '${KEY_LIFETIME}')
         on conflict (owner_id, key) do update
           set request_hash = excluded.request_hash, response = null,
               created_at = excluded.created_at, expires_at = excluded.expires_at
           where todo.idempotency_keys.expires_at <= excluded.created_at
         returning key`,
        [ownerId, key, requestHash],
      );
      return rows.length > 0 ? 'claimed' : 'taken';
    } catch (err) {
      // 55P03 lock_not_available: the request holding the key did not finish within the wait.
      if ((err as { code?: string }).code === '55P03') return 'busy';
      throw err;
    }
  }

  async read<T>(ownerId: string, key: string): Promise<StoredRequest<T> | undefined> {
    const [row] = await this.#em.execute<{ request_hash: string; response: T | null }[]>(
      'select request_hash, response from todo.idempotency_keys where owner_id = ? and key = ?',
      [ownerId, key],
    );
    return row ? { requestHash: row.request_hash, response: row.response } : undefined;
  }

  async complete(ownerId: string, key: string, response: unknown): Promise<void> {
    await this.#em.execute('update todo.idempotency_keys set response = ?::jsonb where owner_id = ? and key = ?', [
      JSON.stringify(response),
      ownerId,
      key,
    ]);
  }

  /** Maintenance across owners: forgets keys past their lifetime. */
  async expire(): Promise<number> {
    const rows = await this.#em.execute('delete from todo.idempotency_keys where expires_at < now() returning key');
    return rows.length;
  }
}
