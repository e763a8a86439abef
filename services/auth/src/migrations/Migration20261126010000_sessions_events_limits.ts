import { Migration } from '@mikro-orm/migrations';

/**
 * Refresh-token sessions (a per-session secret sealed with the KEK and a rotation counter), the
 * transactional outbox for events, and the shared store of the brute-force limiters.
 */
export class Migration20261126010000_sessions_events_limits extends Migration {
  override up(): void {
    this.addSql('delete from auth.sessions');
    this.addSql(`
      alter table auth.sessions
        add column client_id text not null default 'todo-web',
        add column secret_sealed bytea not null,
        add column counter integer not null default 0,
        add column rotated_at timestamptz not null,
        add column last_active_at timestamptz not null,
        add column access_expires_at timestamptz not null,
        add column revoked_reason text,
        add constraint sessions_counter_non_negative check (counter >= 0),
        add constraint sessions_revocation_consistent check ((revoked_at is null) = (revoked_reason is null))`);
    this.addSql('alter table auth.sessions alter column client_id drop default');
    this.addSql(`
      create table auth.outbox (
        id uuid primary key,
        type text not null,
        payload jsonb not null,
        created_at timestamptz not null,
        published_at timestamptz
      )`);
    // The relay's scan: only unpublished rows, oldest first.
    this.addSql('create index outbox_unpublished_idx on auth.outbox (created_at) where published_at is null');
    // rate-limiter-flexible's Postgres store, created here instead of by the library at run time.
    this.addSql(`
      create table auth.rate_limits (
        key varchar(255) primary key,
        points integer not null default 0,
        expire bigint
      )`);
  }

  override down(): void {
    this.addSql('drop table auth.rate_limits');
    this.addSql('drop table auth.outbox');
    this.addSql(`
      alter table auth.sessions
        drop constraint sessions_revocation_consistent,
        drop constraint sessions_counter_non_negative,
        drop column revoked_reason,
        drop column access_expires_at,
        drop column last_active_at,
        drop column rotated_at,
        drop column counter,
        drop column secret_sealed,
        drop column client_id`);
  }
}
