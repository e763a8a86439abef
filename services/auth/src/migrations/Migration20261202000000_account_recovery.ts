import { Migration } from '@mikro-orm/migrations';

/**
 * Account recovery: whether an address is verified, the one-time tokens that prove it or reset a password, and
 * the mail waiting to be sent.
 *
 * A one-time token is `<id>.<secret>`: the row is found by its id and the secret compared, in constant time,
 * with the SHA-256 stored here (the secret itself is never stored). A mail job carries no secret either: the
 * mail relay makes the token in the transaction that marks the job sent, so a token exists only once its mail
 * has been handed to the SMTP server. A job for an address without an account (a reset asked for an unknown
 * email) is written all the same, so that a request costs the same whoever asks; the relay drops it.
 */
export class Migration20261202000000_account_recovery extends Migration {
  override up(): void {
    this.addSql('alter table auth.users add column email_verified_at timestamptz');
    this.addSql(`
      create table auth.one_time_tokens (
        id uuid primary key,
        user_id uuid not null references auth.users (id) on delete cascade,
        purpose text not null,
        secret_hash bytea not null,
        created_at timestamptz not null,
        expires_at timestamptz not null,
        used_at timestamptz,
        constraint one_time_tokens_purpose check (purpose in ('verify_email', 'reset_password')),
        constraint one_time_tokens_secret_hash_length check (octet_length(secret_hash) = 32),
        constraint one_time_tokens_expiry check (expires_at > created_at)
      )`);
    this.addSql('create index one_time_tokens_user_purpose on auth.one_time_tokens (user_id, purpose)');
    this.addSql(`
      create table auth.mail_jobs (
        id uuid primary key,
        kind text not null,
        email text not null,
        created_at timestamptz not null,
        attempts integer not null default 0,
        next_attempt_at timestamptz not null,
        sent_at timestamptz,
        last_error text,
        constraint mail_jobs_kind check (kind in ('verify_email', 'reset_password'))
      )`);
    this.addSql('create index mail_jobs_pending on auth.mail_jobs (next_attempt_at) where sent_at is null');
  }

  override down(): void {
    this.addSql('drop table auth.mail_jobs');
    this.addSql('drop table auth.one_time_tokens');
    this.addSql('alter table auth.users drop column email_verified_at');
  }
}
