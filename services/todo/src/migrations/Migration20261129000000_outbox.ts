import { Migration } from '@mikro-orm/migrations';

/**
 * The todo service's transactional outbox: every create, update and delete records its event here in the
 * same transaction, and the relay publishes them in `seq` order (assigned at insert, so the events of one
 * todo are numbered in the order their changes committed).
 */
export class Migration20261129000000_outbox extends Migration {
  override up(): void {
    this.addSql(`
      create table todo.outbox (
        id uuid primary key,
        seq bigint generated always as identity,
        type text not null,
        payload jsonb not null,
        created_at timestamptz not null,
        published_at timestamptz
      )`);
    // The relay's scan: only unpublished rows, in publishing order.
    this.addSql('create index outbox_unpublished_idx on todo.outbox (seq) where published_at is null');
  }

  override down(): void {
    this.addSql('drop table todo.outbox');
  }
}
