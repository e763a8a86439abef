import { Migration } from '@mikro-orm/migrations';

/**
 * Indexes for the due-date orders and the store of idempotent creates.
 *
 * A todo without a due date sorts last in both due-date orders. Indexing the sort key as
 * coalesce(due_at, ±infinity) makes that a plain row comparison, so every list shape is one index range
 * scan of the owner's rows, including the page after a cursor.
 */
export class Migration20261126020000_list_indexes_idempotency extends Migration {
  override up(): void {
    this.addSql(
      `create index todos_owner_due_asc_idx on todo.todos (owner_id, (coalesce(due_at, 'infinity'::timestamptz)), id)`,
    );
    this.addSql(
      `create index todos_owner_due_desc_idx on todo.todos (owner_id, (coalesce(due_at, '-infinity'::timestamptz)), id)`,
    );
    this.addSql(`
      create table todo.idempotency_keys (
        owner_id uuid not null,
        key text not null,
        request_hash text not null,
        response jsonb,
        created_at timestamptz not null,
        expires_at timestamptz not null,
        primary key (owner_id, key),
        constraint idempotency_keys_key_length check (char_length(key) between 1 and 255)
      )`);
    this.addSql('create index idempotency_keys_expires_at_idx on todo.idempotency_keys (expires_at)');
  }

  override down(): void {
    this.addSql('drop table todo.idempotency_keys');
    this.addSql('drop index todo.todos_owner_due_desc_idx');
    this.addSql('drop index todo.todos_owner_due_asc_idx');
  }
}
