import { Migration } from '@mikro-orm/migrations';

export class Migration20261126000000_initial extends Migration {
  override up(): void {
    this.addSql('create schema if not exists todo');
    this.addSql(`
      create table todo.todos (
        id uuid primary key,
        owner_id uuid not null,
        title text not null,
        description text,
        done boolean not null default false,
        due_at timestamptz,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        version integer not null default 1,
        constraint todos_title_length check (char_length(title) between 1 and 500),
        constraint todos_description_length check (char_length(description) <= 10000),
        constraint todos_version_positive check (version >= 1)
      )`);
    // Owner first, then the sort key and the id: every list query is a range scan of one owner's rows.
    this.addSql('create index todos_owner_created_idx on todo.todos (owner_id, created_at, id)');
  }

  override down(): void {
    this.addSql('drop table todo.todos');
  }
}
