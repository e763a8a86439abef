/**
 * Sends the mails waiting in `auth.mail_jobs`, one job per transaction: the job is locked (`for update skip
 * locked`, so each job goes to one of the replicas' relays), composed (which makes its token), handed to the SMTP
 * server, then marked sent, and the transaction commits. When composing or sending fails the transaction rolls
 * back, so no token exists that the user never received, and the job is tried again later (exponential backoff
 * with jitter, capped). A job is never given up: it waits until it is sent, and its age shows in the metrics and
 * on /readyz. A crash between the server's acceptance and the commit sends the mail again, with the same
 * Message-ID. Polls, and sends at once when `notify()` says a job was committed.
 */
import type { MikroORM } from '@todo/platform/db';
import { type Backlog, FailureStreak, Pause, registerBacklogGauges } from '@todo/platform/events';
import type { Logger } from '@todo/platform/logger';
import { Counter, type Registry } from 'prom-client';
import type { ComposeMail, MailJob, MailKind } from './mail-job.ts';
import type { MailTransport } from './transport.ts';

export interface MailRelayOptions {
  orm: MikroORM;
  transport: MailTransport;
  compose: ComposeMail;
  /** The From header, e.g. `todo-platform <no-reply@example.com>`. */
  from: string;
  logger: Logger;
  registry: Registry;
  pollIntervalMs?: number;
  /** The wait after a job's first failed attempt; it doubles with each further one (with jitter). */
  retryBaseMs?: number;
  /** The longest wait between two attempts at one job. */
  maxBackoffMs?: number;
  /** After failing this long, the relay logs an error (once per outage) instead of warnings. */
  alarmAfterMs?: number;
  /** Sent jobs older than this are deleted (they hold an address). */
  keepSentMs?: number;
}

export type MailBacklog = Backlog;

interface JobRow {
  id: string;
  kind: MailKind;
  email: string;
  attempts: number;
  created_at: Date;
}

type Attempt =
  | { outcome: 'idle' }
  | { outcome: 'sent' | 'dropped'; job: MailJob }
  | { outcome: 'failed'; job: MailJob; error: string }
  /** The database itself failed: no job could be taken. */
  | { outcome: 'stalled'; error: unknown };

/** A job younger than this is in flight, not waiting. */
const WAITING_AFTER_SECONDS = 60;

const PENDING = 'sent_at is null';

/** An address's local part is personal data: logs and `last_error` keep only the domain. */
const withoutLocalParts = (text: string) => text.replace(/[^\s<>()[\]"',;:@]+@([\w.-]+)/g, '…@$1');

/** What went wrong, short and without secrets or addresses: for the log, `last_error` and /readyz. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return withoutLocalParts(String(err)).slice(0, 300);
  const { code, responseCode, command } = err as Error & { code?: string; responseCode?: number; command?: string };
  const where = [code, responseCode, command].filter((part) => part !== undefined && part !== '').join(' ');
  return withoutLocalParts(`${where ? `${where}: ` : ''}${err.message}`).slice(0, 300);
}

const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1);

export class MailRelay {
  readonly #options: Required<MailRelayOptions>;
  readonly #sent: Counter<'kind' | 'outcome'>;
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #pause = new Pause();
  /** Set by `notify()`; makes the loop go round again instead of sleeping, so none is lost. */
  #dirty = false;
  #lastError: string | undefined;
  #lastCleanup = 0;

  constructor(options: MailRelayOptions) {
    this.#options = {
      pollIntervalMs: 500,
      retryBaseMs: 5_000,
      maxBackoffMs: 300_000,
      alarmAfterMs: 600_000,
      keepSentMs: 7 * 24 * 3600 * 1000,
      ...options,
    };
    const registers = [options.registry];
    this.#sent = new Counter({
      name: 'mail_sent_total',
      help: 'Mail jobs by outcome: sent, dropped (nothing to send, e.g. no such account) or failed (an attempt).',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    registerBacklogGauges(
      options.registry,
      () => this.backlog(),
      { pending: 'mail_jobs_pending', oldest: 'mail_oldest_pending_age_seconds' },
      { pending: 'Mails waiting to be sent.', oldest: 'Age of the oldest mail not yet sent (0 when none waits).' },
    );
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops once the mail being sent (if any) is sent or failed; what waits stays for the next relay. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#pause.wake();
    await this.#loop;
  }

  /** Sends now rather than at the next poll: call after committing a job. */
  notify(): void {
    this.#dirty = true;
    this.#pause.wake();
  }

  /** What is waiting, for metrics and readiness. */
  async backlog(): Promise<MailBacklog> {
    const [row] = await this.#options.orm.em.fork().execute<{ pending: number; oldest_age_seconds: number }[]>(
      `select count(*)::int as pending,
              coalesce(extract(epoch from now() - min(created_at)), 0)::float as oldest_age_seconds
         from auth.mail_jobs where ${PENDING}`,
    );
    return { pending: row?.pending ?? 0, oldestAgeSeconds: Math.round(row?.oldest_age_seconds ?? 0) };
  }

  /**
   * The readiness detail: `ok`, or how many mails wait, for how long, and the last error. Never a reason to be
   * unready: the API works without mail, and taking the pods out of the load balancer would not bring it back.
   */
  readonly readiness = async (): Promise<string> => {
    const { pending, oldestAgeSeconds } = await this.backlog();
    if (oldestAgeSeconds < WAITING_AFTER_SECONDS) return 'ok';
    const cause = this.#lastError ? ` (last error: ${this.#lastError})` : '';
    return `${pending} mails waiting to be sent, the oldest for ${oldestAgeSeconds} s${cause}`;
  };

  /** Takes the next due job and sends it, in one transaction; a failure is recorded on the job afterwards. */
  async #attempt(): Promise<Attempt> {
    const { orm, compose, transport, from } = this.#options;
    let job: MailJob | undefined;
    try {
      return await orm.em.fork().transactional(async (tx): Promise<Attempt> => {
        const [row] = await tx.execute<JobRow[]>(
          `select id, kind, email, attempts, created_at from auth.mail_jobs
            where ${PENDING} and next_attempt_at <= now()
            order by next_attempt_at limit 1 for update skip locked`,
        );
        if (!row) return { outcome: 'idle' };
        job = { id: row.id, kind: row.kind, email: row.email, attempts: row.attempts, createdAt: row.created_at };
        const mail = await compose(tx, job);
        if (mail) {
          const { to, subject, text, html } = mail;
          await transport.sendMail({ from, to, subject, text, html, messageId: `<${job.id}@todo-platform>` });
        }
        await tx.execute(`update auth.mail_jobs set sent_at = now(), last_error = null where id = ?`, [job.id]);
        return { outcome: mail ? 'sent' : 'dropped', job };
      });
    } catch (err) {
      if (!job) return { outcome: 'stalled', error: err };
      const error = describe(err);
      // Unrecorded, the job would be due again at once: wait as for a database failure instead.
      try {
        await this.#recordFailure(job, error);
      } catch (failure) {
        return { outcome: 'stalled', error: failure };
      }
      return { outcome: 'failed', job, error };
    }
  }

  async #recordFailure(job: MailJob, error: string): Promise<void> {
    const { retryBaseMs, maxBackoffMs } = this.#options;
    // Full backoff for this attempt, then a random half of it off: replicas and jobs do not retry in step.
    const backoff = Math.min(retryBaseMs * 2 ** job.attempts, maxBackoffMs);
    const delayMs = Math.round(backoff / 2 + Math.random() * (backoff / 2));
    await this.#options.orm.em.fork().execute(
      `update auth.mail_jobs
            set attempts = attempts + 1, next_attempt_at = now() + ? * interval '1 millisecond', last_error = ?
          where id = ? and ${PENDING}`,
      [delayMs, error, job.id],
    );
  }

  async #run(): Promise<void> {
    const { logger, pollIntervalMs, maxBackoffMs, alarmAfterMs } = this.#options;
    const streak = new FailureStreak({
      logger,
      alarmAfterMs,
      backlog: () => this.backlog(),
      messages: {
        failing: 'could not send a mail; will retry',
        alarm: 'mail relay has not been able to send for a while; mails are waiting',
        recovered: 'mail relay sends again',
      },
    });
    while (this.#running) {
      this.#dirty = false;
      const attempt = await this.#attempt();
      if (attempt.outcome === 'sent' || attempt.outcome === 'dropped') {
        this.#sent.inc({ kind: attempt.job.kind, outcome: attempt.outcome });
        streak.succeeded();
        this.#lastError = undefined;
        await this.#cleanup().catch((err: unknown) => logger.warn({ err }, 'could not delete old sent mail jobs'));
        continue;
      }
      if (attempt.outcome === 'failed') {
        const { job, error } = attempt;
        this.#sent.inc({ kind: job.kind, outcome: 'failed' });
        this.#lastError = error;
        const context = {
          jobId: job.id,
          kind: job.kind,
          attempt: job.attempts + 1,
          domain: domainOf(job.email),
          error,
        };
        await streak.failed(context);
        // Another job may be due (its own backoff passed): go on.
        if (this.#running) continue;
      } else if (attempt.outcome === 'stalled') {
        this.#lastError = `database: ${describe(attempt.error)}`;
        await streak.failed({ err: attempt.error });
      }
      if (!this.#running) break;
      if (attempt.outcome === 'idle' && this.#dirty) continue;
      // The database failing: wait, growing.
      await this.#pause.for(
        attempt.outcome === 'stalled' ? streak.backoff(pollIntervalMs, maxBackoffMs) : pollIntervalMs,
      );
    }
  }

  async #cleanup(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastCleanup < 3600_000) return;
    this.#lastCleanup = now;
    await this.#options.orm.em
      .fork()
      .execute(`delete from auth.mail_jobs where sent_at < now() - ? * interval '1 millisecond'`, [
        this.#options.keepSentMs,
      ]);
  }
}
