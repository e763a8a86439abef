import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126000000_initial } from './Migration20261126000000_initial.ts';
import { Migration20261126010000_sessions_events_limits } from './Migration20261126010000_sessions_events_limits.ts';
import { Migration20261129000000_outbox_order } from './Migration20261129000000_outbox_order.ts';
import { Migration20261201000000_outbox_trace_context } from './Migration20261201000000_outbox_trace_context.ts';
import { Migration20261202000000_account_recovery } from './Migration20261202000000_account_recovery.ts';

/** Every migration, in order. A new migration is added here as well as in its own file. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261126000000_initial', class: Migration20261126000000_initial },
  { name: 'Migration20261126010000_sessions_events_limits', class: Migration20261126010000_sessions_events_limits },
  { name: 'Migration20261129000000_outbox_order', class: Migration20261129000000_outbox_order },
  { name: 'Migration20261201000000_outbox_trace_context', class: Migration20261201000000_outbox_trace_context },
  { name: 'Migration20261202000000_account_recovery', class: Migration20261202000000_account_recovery },
];
