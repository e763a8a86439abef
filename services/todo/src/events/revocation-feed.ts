/**
 * Keeps this replica's revocation list current from the auth service's events, so a logged-out session's
 * access token stops working here within about a second, without asking the auth service per request.
 * Every replica follows the stream itself (an ordered consumer), starting far enough back to cover every
 * access token that could still be alive.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { RevocationList } from '@todo/platform/auth';
import {
  authEventsStream,
  followEvents,
  type RunningConsumer,
  SESSION_REVOKED,
  type SessionRevoked,
  USER_DELETED,
  type UserDeleted,
} from '@todo/platform/events';
import type { Logger } from '@todo/platform/logger';

export interface RevocationFeedOptions {
  js: JetStreamClient;
  namespace: string;
  revocations: RevocationList;
  logger: Logger;
  replaySeconds: number;
}

export function followRevocations({
  js,
  namespace,
  revocations,
  logger,
  replaySeconds,
}: RevocationFeedOptions): Promise<RunningConsumer> {
  return followEvents({
    js,
    stream: authEventsStream(namespace),
    namespace,
    types: [SESSION_REVOKED, USER_DELETED],
    since: new Date(Date.now() - replaySeconds * 1000),
    logger,
    handle(type, event) {
      if (type === SESSION_REVOKED) {
        const data = event.data as SessionRevoked;
        revocations.revokeSession(data.sessionId, data.tokensExpireBy);
      } else {
        const data = event.data as UserDeleted;
        revocations.revokeUser(data.userId, data.deletedAt, data.tokensExpireBy);
      }
    },
  });
}
