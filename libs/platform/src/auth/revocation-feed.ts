/**
 * Keeps this replica's revocation list current from the auth service's events, so a logged-out session's
 * access token stops working here within about a second, without asking the auth service per request. For
 * any service that verifies access tokens: its NATS user needs read access to AUTH_EVENTS (stream info and
 * message get), and a `revocations` readiness detail (`followerReadiness`) shows when it falls behind.
 * Every replica follows the stream itself, starting far enough back to cover every access token that could
 * still be alive, and resumes after the last event it applied whenever it loses the stream.
 */
import type { Registry } from 'prom-client';
import type { Broker } from '../events/connection.ts';
import { type Follower, followStream } from '../events/consumers.ts';
import { SESSION_REVOKED, USER_DELETED } from '../events/contracts.ts';
import { authEventsStream } from '../events/streams.ts';
import type { Logger } from '../logger.ts';
import type { RevocationList } from './revocations.ts';

export interface RevocationFeedOptions {
  broker: Broker;
  namespace: string;
  service: string;
  revocations: RevocationList;
  logger: Logger;
  registry?: Registry;
  replaySeconds: number;
  staleAfterSeconds: number;
}

export function followRevocations({
  broker,
  namespace,
  service,
  revocations,
  logger,
  registry,
  replaySeconds,
  staleAfterSeconds,
}: RevocationFeedOptions): Follower {
  return followStream({
    broker,
    stream: authEventsStream(namespace),
    namespace,
    service,
    name: `${service}-revocations`,
    types: [SESSION_REVOKED, USER_DELETED],
    since: new Date(Date.now() - replaySeconds * 1000),
    staleAfterMs: staleAfterSeconds * 1000,
    logger,
    registry,
    handle(event) {
      if (event.type === SESSION_REVOKED) {
        revocations.revokeSession(event.data.sessionId, event.data.tokensExpireBy);
      } else if (event.type === USER_DELETED) {
        revocations.revokeUser(event.data.userId, event.data.deletedAt, event.data.tokensExpireBy);
      }
    },
  });
}
