import { Migration } from '@mikro-orm/migrations';

/** The shared store of the per-user write limits (rate-limiter-flexible's PostgreSQL layout). */
export class Migration20261130000000_rate_limits extends Migration {
  override up(): void {
    this.addSql(`
      create table todo.rate_limits (
        key varchar(255) primary key,
        points integer not null default 0,
        expire bigint
      )`);
  }

  override down(): void {
    this.addSql('drop table todo.rate_limits');
  }
}
