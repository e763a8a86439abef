import { Migration } from '@mikro-orm/migrations';

export class Migration20261126000000_initial extends Migration {
  override up(): void {
    this.addSql('create schema if not exists auth');
    this.addSql(`
      create table auth.users (
        id uuid primary key,
        email text not null,
        name text,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        constraint users_email_key unique (email),
        constraint users_email_normalised check (email = lower(btrim(email)) and char_length(email) <= 254)
      )`);
    this.addSql(`
      create table auth.credentials (
        user_id uuid primary key references auth.users (id) on delete cascade,
        password_hash text not null,
        updated_at timestamptz not null
      )`);
    this.addSql(`
      create table auth.sessions (
        id uuid primary key,
        user_id uuid not null references auth.users (id) on delete cascade,
        created_at timestamptz not null,
        expires_at timestamptz not null,
        revoked_at timestamptz
      )`);
    this.addSql('create index sessions_user_id_idx on auth.sessions (user_id)');
    this.addSql(`
      create table auth.signing_keys (
        kid text primary key,
        alg text not null,
        public_jwk jsonb not null,
        private_jwk_sealed bytea not null,
        created_at timestamptz not null,
        activates_at timestamptz not null
      )`);
  }

  override down(): void {
    this.addSql('drop table auth.signing_keys');
    this.addSql('drop table auth.sessions');
    this.addSql('drop table auth.credentials');
    this.addSql('drop table auth.users');
  }
}
