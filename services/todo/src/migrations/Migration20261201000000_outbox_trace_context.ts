import { Migration } from '@mikro-orm/migrations';

/**
 * Each event keeps the W3C trace context of the change that caused it, so that the relay's publish and the
 * consumers' work join the same trace. Null for an event written while nothing was traced. Adding a nullable
 * column without a default only changes the catalogue: no rewrite, no long lock.
 */
export class Migration20261201000000_outbox_trace_context extends Migration {
  override up(): void {
    this.addSql('alter table todo.outbox add column trace_context jsonb');
  }

  override down(): void {
    this.addSql('alter table todo.outbox drop column trace_context');
  }
}
