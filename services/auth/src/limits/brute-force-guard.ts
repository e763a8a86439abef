/**
 * The limits on everything that guesses passwords or mints tokens, in PostgreSQL (rate-limiter-flexible's
 * Postgres store) so that they hold across replicas. Every attempt is counted *before* the password is
 * checked (one atomic consume per limit), so no burst, however concurrent, runs more checks than a limit
 * allows; a success gives back what it took. IPv6 clients count by their /64, which one client controls.
 *
 * - per (email, client): N consecutive failures block the pair for a while; a success clears the count.
 * - per account, across clients: a few checks per short window, then blocks that grow with the day's
 *   failures up to a few minutes: guessing slows to a crawl. A client that logged in to the account in the
 *   last 30 days (the owner's devices, counted by client like everything here) is exempt from this one, and
 *   so keeps getting in however long a slow guessing campaign keeps the account blocked for everyone else;
 *   it remains under the pair's and the client's limits, which (with the defaults) hold a guesser sharing
 *   that address to no more guesses than the account limit would. A password change or reset ends every
 *   exemption (`forgetClients`): a client that only knew the old password is a stranger again.
 * - per client: failures per hour, sized for many people behind one NAT; the block ends with the hour.
 * - password re-checks on a signed-in account, registrations per client, refreshes per session.
 *
 * Every login settles here, whichever endpoint it came through (`/auth/login`, `/oauth/token`), so the
 * login outcomes are counted here too (`auth_logins_total`).
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { QueryClient } from '@todo/platform/db';
import { TooManyRequestsError } from '@todo/platform/errors';
import { clientKey, type RateLimitReport, takePoint } from '@todo/platform/http';
import { Counter, type Registry } from 'prom-client';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';

export interface BruteForceLimits {
  loginMaxConsecutiveFailures: number;
  loginBlockSeconds: number;
  loginAccountAttemptsPerWindow: number;
  loginAccountWindowSeconds: number;
  loginAccountMaxDelaySeconds: number;
  loginMaxFailuresPerClientPerHour: number;
  registerMaxPerClientPerHour: number;
  refreshMaxPerSessionPerMinute: number;
  /** Mails asked for (verification resends, password resets), per address and per client, per hour. */
  mailMaxPerEmailPerHour: number;
  mailMaxPerClientPerHour: number;
}

/** An attempt that passed the limits: settle it once the password check said yes or no. */
export interface Attempt {
  succeeded(): Promise<void>;
  failed(): Promise<void>;
}

const TABLE = { storeType: 'pool', tableName: 'rate_limits', schemaName: 'auth', tableCreated: true } as const;
const DAY = 24 * 3600;
/** How long a successful login makes its client known to the account (every success starts it again). */
const KNOWN_CLIENT_SECONDS = 30 * DAY;

/** Emails are keys here, not data: store a digest. */
const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 32);

/**
 * A limit on consecutive failures, counted over a day, that once used up is a block of fixed length
 * (`blockDuration`): set by the failure that used it up (`#blockWhenUsedUp`) or, in a burst whose checks are
 * still running, by the first attempt it refuses (rate-limiter-flexible does that). So a refusal's wait is the
 * block's, when a retry can succeed, never the rest of the day; attempts refused in the same instant as the
 * one that sets the block read the day's expiry before the block lands, hence the cap.
 */
class ConsecutiveFailures extends RateLimiterPostgres {
  override async consume(key: string | number, points?: number, options?: Record<string, unknown>) {
    try {
      return await super.consume(key, points, options);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const wait = Math.min(err.msBeforeNext, this.blockDuration * 1000);
      throw new RateLimiterRes(err.remainingPoints, wait, err.consumedPoints, err.isFirstInDuration);
    }
  }
}

interface Limit {
  limiter: RateLimiterPostgres;
  policy: string;
  quota: number;
  windowSeconds: number;
}

export class BruteForceGuard {
  readonly #settings: BruteForceLimits;
  readonly #pair: Limit;
  readonly #account: Limit;
  readonly #accountFailures: RateLimiterPostgres;
  /** (account, client) pairs that logged in recently: exempt from the account limit. */
  readonly #knownClients: RateLimiterPostgres;
  readonly #client: Limit;
  readonly #recheck: Limit;
  readonly #register: Limit;
  readonly #refresh: Limit;
  readonly #mailToAddress: Limit;
  readonly #mailFromClient: Limit;
  readonly #checks: Counter<'kind'>;
  readonly #logins: Counter<'outcome'>;

  constructor(store: QueryClient, settings: BruteForceLimits, registry?: Registry) {
    this.#settings = settings;
    /** `blockSeconds` makes it a limit on consecutive failures, blocked that long once used up. */
    const limit = (
      keyPrefix: string,
      policy: string,
      quota: number,
      windowSeconds: number,
      blockSeconds?: number,
    ): Limit => {
      const options = { ...TABLE, storeClient: store, keyPrefix, points: quota, duration: windowSeconds };
      return {
        limiter:
          blockSeconds === undefined
            ? new RateLimiterPostgres(options)
            : new ConsecutiveFailures({ ...options, blockDuration: blockSeconds }),
        policy,
        quota,
        windowSeconds,
      };
    };
    this.#pair = limit('pair', 'login-pair', settings.loginMaxConsecutiveFailures, DAY, settings.loginBlockSeconds);
    this.#account = limit(
      'account',
      'login-account',
      settings.loginAccountAttemptsPerWindow,
      settings.loginAccountWindowSeconds,
    );
    this.#accountFailures = new RateLimiterPostgres({
      ...TABLE,
      storeClient: store,
      keyPrefix: 'account_failures',
      points: Number.MAX_SAFE_INTEGER,
      duration: DAY,
    });
    this.#knownClients = new RateLimiterPostgres({
      ...TABLE,
      storeClient: store,
      keyPrefix: 'known_client',
      points: 1,
      duration: KNOWN_CLIENT_SECONDS,
    });
    this.#client = limit('client', 'login-client', settings.loginMaxFailuresPerClientPerHour, 3600);
    this.#recheck = limit(
      'recheck',
      'password-check',
      settings.loginMaxConsecutiveFailures,
      DAY,
      settings.loginBlockSeconds,
    );
    this.#register = limit('register', 'register-client', settings.registerMaxPerClientPerHour, 3600);
    this.#refresh = limit('refresh', 'refresh-session', settings.refreshMaxPerSessionPerMinute, 60);
    this.#mailToAddress = limit('mail_address', 'mail-address', settings.mailMaxPerEmailPerHour, 3600);
    this.#mailFromClient = limit('mail_client', 'mail-client', settings.mailMaxPerClientPerHour, 3600);
    this.#checks = new Counter({
      name: 'auth_password_checks_total',
      help: 'Password hashes checked (argon2 runs), by kind: login or re-check on a signed-in account.',
      labelNames: ['kind'] as const,
      registers: registry ? [registry] : [],
    });
    this.#logins = new Counter({
      name: 'auth_logins_total',
      help: 'Logins (JSON and OAuth password grant) by outcome: success, invalid_credentials (unknown email or wrong password), rate_limited (refused by a limit before any check).',
      labelNames: ['outcome'] as const,
      registers: registry ? [registry] : [],
    });
  }

  /**
   * Counts a login attempt against every limit before the password is checked; 429 when one is used up. A
   * client known to the account (it logged in to it lately) is not counted against the account's limit.
   */
  async loginAttempt(email: string, ip: string, report: RateLimitReport): Promise<Attempt> {
    const pairKey = `${digest(email)}:${clientKey(ip)}`;
    const accountKey = digest(email);
    const refused = () => this.#logins.inc({ outcome: 'rate_limited' });
    // The pair first, before asking whether the client is known: the many attempts of a burst that the pair
    // refuses then cost one query each, not two (a full pool answers 503 rather than queue them).
    const taken = await this.#takeAll(report, [[this.#pair, pairKey]], refused);
    let known: boolean;
    try {
      known = (await this.#knownClients.get(pairKey)) !== null;
      const rest: [Limit, string][] = known ? [] : [[this.#account, accountKey]];
      rest.push([this.#client, clientKey(ip)]);
      for (const [limit, res] of await this.#takeAll(report, rest, refused)) taken.set(limit, res);
    } catch (err) {
      if (err instanceof TooManyRequestsError) await this.#give(this.#pair, pairKey, taken);
      throw err;
    }
    this.#checks.inc({ kind: 'login' });
    return {
      succeeded: async () => {
        this.#logins.inc({ outcome: 'success' });
        // The pair's consecutive failures end; the account's and the client's counts get this attempt back;
        // the client is known to the account for another 30 days.
        await Promise.all([
          this.#pair.limiter.delete(pairKey),
          this.#give(this.#account, accountKey, taken),
          this.#give(this.#client, clientKey(ip), taken),
          this.#knownClients.set(pairKey, 1, KNOWN_CLIENT_SECONDS),
        ]);
      },
      failed: async () => {
        this.#logins.inc({ outcome: 'invalid_credentials' });
        // A known client's failures (the owner mistyping) do not slow the account down for anyone else.
        await Promise.all([
          this.#blockWhenUsedUp(this.#pair, pairKey, taken),
          known ? undefined : this.#slowDown(accountKey),
        ]);
      },
    };
  }

  /**
   * After a password change or reset: no client is known to the account any more, so one that knew the old
   * password (an intruder the owner just locked out) is slowed by the account limit again like any other.
   * Runs in the caller's transaction, so it holds exactly when the new password does.
   */
  async forgetClients(tx: EntityManager, email: string): Promise<void> {
    await tx.execute(`delete from ${TABLE.schemaName}.${TABLE.tableName} where starts_with(key, ?)`, [
      `known_client:${digest(email)}:`,
    ]);
  }

  /** For password checks on a signed-in account (change password, delete account). */
  async passwordCheckAttempt(userId: string, report: RateLimitReport): Promise<Attempt> {
    const key = `user:${userId}`;
    const taken = await this.#takeAll(report, [[this.#recheck, key]]);
    this.#checks.inc({ kind: 'recheck' });
    return {
      succeeded: async () => {
        await this.#recheck.limiter.delete(key);
      },
      failed: () => this.#blockWhenUsedUp(this.#recheck, key, taken),
    };
  }

  async register(ip: string, report: RateLimitReport): Promise<void> {
    await this.#takeAll(report, [[this.#register, clientKey(ip)]]);
  }

  async refresh(sessionId: string, report: RateLimitReport): Promise<void> {
    await this.#takeAll(report, [[this.#refresh, sessionId]]);
  }

  /**
   * A mail asked for (a reset, a verification resend): counted per address, so nobody can mail-bomb one, and
   * per client, so nobody can mail-bomb many. Counted the same whether or not the address has an account.
   */
  async mailRequest(email: string, ip: string, report: RateLimitReport): Promise<void> {
    await this.#takeAll(report, [
      [this.#mailToAddress, digest(email)],
      [this.#mailFromClient, clientKey(ip)],
    ]);
  }

  /**
   * Takes one point from each limit, in order. When one is used up, gives back what was taken and answers
   * 429 with that limit's wait (counted as its refusal, and `onRefused` told); either way the states go into
   * the report.
   */
  async #takeAll(
    report: RateLimitReport,
    limits: [Limit, string][],
    onRefused?: () => void,
  ): Promise<Map<Limit, RateLimiterRes>> {
    const taken = new Map<Limit, RateLimiterRes>();
    for (const [limit, key] of limits) {
      try {
        taken.set(limit, await takePoint(limit, key, report));
      } catch (err) {
        if (!(err instanceof TooManyRequestsError)) throw err;
        onRefused?.();
        for (const [earlier, earlierKey] of limits.slice(0, taken.size)) await this.#give(earlier, earlierKey, taken);
        throw err;
      }
    }
    return taken;
  }

  async #give(limit: Limit, key: string, taken: Map<Limit, RateLimiterRes>): Promise<void> {
    if (taken.has(limit)) await limit.limiter.reward(key, 1);
  }

  /** The failure that used up a consecutive-failure limit turns it into a block of fixed length. */
  async #blockWhenUsedUp(limit: Limit, key: string, taken: Map<Limit, RateLimiterRes>): Promise<void> {
    const res = taken.get(limit);
    if (!res || res.consumedPoints < limit.quota) return;
    // An attempt refused meanwhile has set the block already, and told its client when it ends: keep that end.
    const current = await limit.limiter.get(key);
    if (current && current.consumedPoints > limit.quota) return;
    await limit.limiter.block(key, this.#settings.loginBlockSeconds);
  }

  /** Each failure beyond the free attempts blocks the account for twice as long as the last, up to the cap. */
  async #slowDown(accountKey: string): Promise<void> {
    const failures = (await this.#accountFailures.penalty(accountKey, 1)).consumedPoints;
    const beyond = failures - this.#settings.loginAccountAttemptsPerWindow;
    if (beyond <= 0) return;
    const seconds = Math.min(2 ** (beyond - 1), this.#settings.loginAccountMaxDelaySeconds);
    // Never shorten what the window already holds: a short block must not hand out a fresh window early.
    const current = await this.#account.limiter.get(accountKey);
    await this.#account.limiter.block(accountKey, Math.max(seconds, (current?.msBeforeNext ?? 0) / 1000));
  }
}
