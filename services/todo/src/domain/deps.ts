import type { Outbox } from '@todo/platform/events';

/** What the todo use cases need besides the request's EntityManager; built once by the service. */
export interface TodoDeps {
  /** Every change records its event here, in the transaction of the change. */
  outbox: Outbox;
  /** How long a create waits for an earlier request holding the same Idempotency-Key before a 409. */
  idempotencyWaitMs: number;
}
