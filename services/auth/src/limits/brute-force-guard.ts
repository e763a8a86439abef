/**
 * The limits on everything that guesses passwords or mints tokens, in PostgreSQL (rate-limiter-flexible's
 * Postgres store) so that they hold across replicas without another component.
 *
 * - login: N consecutive failures per (email, IP) block that pair for a while; M failures per IP per day
 *   block the IP; a success clears the pair's count.
 * - password checks on an authenticated account (change, delete): N consecutive failures per user.
 * - register: R attempts per IP per hour.  - refresh: F per session per minute.
 */
import { createHash } from 'node:crypto';
import { TooManyRequestsError } from '@todo/platform/errors';
import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';

export interface BruteForceLimits {
  loginMaxConsecutiveFailures: number;
  loginBlockSeconds: number;
  loginMaxFailuresPerIpPerDay: number;
  registerMaxPerIpPerHour: number;
  refreshMaxPerSessionPerMinute: number;
}

const TABLE = { storeType: 'pool', tableName: 'rate_limits', schemaName: 'auth', tableCreated: true } as const;

/** Emails are keys here, not data: store a digest. */
const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 32);

function refuse(res: RateLimiterRes | null, limit: number): void {
  if (res !== null && res.consumedPoints >= limit) throw new TooManyRequestsError(res.msBeforeNext / 1000);
}

async function consumeOrRefuse(limiter: RateLimiterPostgres, key: string): Promise<RateLimiterRes> {
  try {
    return await limiter.consume(key);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw new TooManyRequestsError(err.msBeforeNext / 1000);
    throw err;
  }
}

export class BruteForceGuard {
  readonly #limits: BruteForceLimits;
  readonly #consecutive: RateLimiterPostgres;
  readonly #perIpDaily: RateLimiterPostgres;
  readonly #register: RateLimiterPostgres;
  readonly #refresh: RateLimiterPostgres;

  constructor(pool: pg.Pool, limits: BruteForceLimits) {
    this.#limits = limits;
    const base = { ...TABLE, storeClient: pool };
    // Counts live a day; reaching the limit replaces that with an explicit block (see #failed).
    this.#consecutive = new RateLimiterPostgres({
      ...base,
      keyPrefix: 'consecutive',
      points: limits.loginMaxConsecutiveFailures,
      duration: 24 * 3600,
    });
    this.#perIpDaily = new RateLimiterPostgres({
      ...base,
      keyPrefix: 'ip_day',
      points: limits.loginMaxFailuresPerIpPerDay,
      duration: 24 * 3600,
    });
    this.#register = new RateLimiterPostgres({
      ...base,
      keyPrefix: 'register',
      points: limits.registerMaxPerIpPerHour,
      duration: 3600,
    });
    this.#refresh = new RateLimiterPostgres({
      ...base,
      keyPrefix: 'refresh',
      points: limits.refreshMaxPerSessionPerMinute,
      duration: 60,
    });
  }

  /** Throws 429 (with Retry-After) when this email from this IP, or this IP at all, may not try now. */
  async beforeLogin(email: string, ip: string): Promise<void> {
    const [pair, daily] = await Promise.all([
      this.#consecutive.get(`login:${digest(email)}:${ip}`),
      this.#perIpDaily.get(ip),
    ]);
    refuse(pair, this.#limits.loginMaxConsecutiveFailures);
    refuse(daily, this.#limits.loginMaxFailuresPerIpPerDay);
  }

  async loginFailed(email: string, ip: string): Promise<void> {
    await Promise.all([this.#failed(`login:${digest(email)}:${ip}`), this.#perIpDaily.penalty(ip, 1)]);
  }

  async loginSucceeded(email: string, ip: string): Promise<void> {
    await this.#consecutive.delete(`login:${digest(email)}:${ip}`);
  }

  /** For password checks on a signed-in account (change password, delete account). */
  async beforePasswordCheck(userId: string): Promise<void> {
    refuse(await this.#consecutive.get(`user:${userId}`), this.#limits.loginMaxConsecutiveFailures);
  }

  async passwordCheckFailed(userId: string): Promise<void> {
    await this.#failed(`user:${userId}`);
  }

  async passwordCheckSucceeded(userId: string): Promise<void> {
    await this.#consecutive.delete(`user:${userId}`);
  }

  async register(ip: string): Promise<void> {
    await consumeOrRefuse(this.#register, ip);
  }

  async refresh(sessionId: string): Promise<void> {
    await consumeOrRefuse(this.#refresh, sessionId);
  }

  /** Counts a failure; the one that reaches the limit turns the count into a block of fixed length. */
  async #failed(key: string): Promise<void> {
    const res = await this.#consecutive.penalty(key, 1);
    if (res.consumedPoints >= this.#limits.loginMaxConsecutiveFailures) {
      await this.#consecutive.block(key, this.#limits.loginBlockSeconds);
    }
  }
}
