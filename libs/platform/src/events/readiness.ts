/**
 * How the events side of a service shows on `/readyz`: as details, never as a reason to be unready. The
 * outbox is there so that writes go on while NATS is away; taking the pods out of the load balancer then
 * would turn a broker outage into an API outage.
 */
import type { ReadinessDetail } from '../http/ops.ts';
import type { Broker } from './connection.ts';
import type { Follower } from './consumers.ts';
import type { OutboxRelay } from './outbox.ts';

/** An event younger than this is in flight, not waiting. */
const WAITING_AFTER_SECONDS = 10;

export interface EventReadinessParts {
  broker: Broker;
  /** None for a service that publishes nothing. */
  relay: OutboxRelay | undefined;
}

/** `nats`: the connection's state; `outbox`: `ok`, or how many events wait and for how long. */
export function eventReadiness({ broker, relay }: EventReadinessParts): Record<string, ReadinessDetail> {
  const details: Record<string, ReadinessDetail> = {
    nats: () => (broker.state() === 'connected' ? 'ok' : broker.state()),
  };
  if (relay) {
    details.outbox = async () => {
      const { pending, oldestAgeSeconds } = await relay.backlog();
      return oldestAgeSeconds < WAITING_AFTER_SECONDS
        ? 'ok'
        : `${pending} events waiting to be published, the oldest for ${oldestAgeSeconds} s`;
    };
  }
  return details;
}

/** `stale: not caught up for 12 s (reason)` once a follower is behind its bound, else `ok`. */
export const followerReadiness =
  (follower: Follower): ReadinessDetail =>
  () => {
    const { fresh, stalenessMs, lastError } = follower.health();
    if (fresh) return 'ok';
    const since = Number.isFinite(stalenessMs) ? `for ${Math.round(stalenessMs / 1000)} s` : 'since start';
    return `stale: not caught up ${since}${lastError ? ` (${lastError})` : ''}`;
  };
