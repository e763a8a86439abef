import { Migration } from '@mikro-orm/migrations';

/**
 * The relay publishes in `seq` order, assigned by PostgreSQL at insert: for one entity that is the order its
 * changes committed, which a timestamp taken in the application cannot promise across replicas.
 */
export class Migration20261129000000_outbox_order extends Migration {
  override up(): void {
    this.addSql('alter table auth.outbox add column seq bigint generated always as identity');
    this.addSql('drop index auth.outbox_unpublished_idx');
    this.addSql('create index outbox_unpublished_idx on auth.outbox (seq) where published_at is null');
  }

  override down(): void {
    this.addSql('drop index auth.outbox_unpublished_idx');
    this.addSql('create index outbox_unpublished_idx on auth.outbox (created_at) where published_at is null');
    this.addSql('alter table auth.outbox drop column seq');
  }
}
