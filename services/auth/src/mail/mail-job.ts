/**
 * A mail waiting to be sent: a row of `auth.mail_jobs`, written in the transaction of the change that asks for
 * it (a registration, a reset request), so a crash never loses one. It carries no secret: the relay composes
 * the mail (and makes its one-time token) in the transaction that marks the job sent.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from '@todo/platform/db';

export type MailKind = 'verify_email' | 'reset_password';

export interface MailJob {
  id: string;
  kind: MailKind;
  /** The address the mail goes to (normalised); for a reset asked for an unknown address, no account has it. */
  email: string;
  attempts: number;
  createdAt: Date;
}

/** A composed mail: both bodies, from the templates. */
export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * Makes the mail of a job inside the relay's transaction, with whatever must exist once it is sent (its
 * token); undefined when there is nothing to send (no such account, or already verified): the job is done.
 */
export type ComposeMail = (tx: EntityManager, job: MailJob) => Promise<Mail | undefined>;

/** Records a mail to send, in the caller's transaction. */
export async function enqueueMail(tx: EntityManager, kind: MailKind, email: string, now = new Date()): Promise<void> {
  await tx.execute('insert into auth.mail_jobs (id, kind, email, created_at, next_attempt_at) values (?, ?, ?, ?, ?)', [
    newId(),
    kind,
    email,
    now,
    now,
  ]);
}
