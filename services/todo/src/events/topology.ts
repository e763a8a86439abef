/** What the todo service needs in JetStream, created by the setup step (`npm run migrate`). */
import { authEventsStream, deadLetterStream, type EventTopology, todoEventsStream } from '@todo/platform/events';
import { forgetDeletedUsersConsumer } from './forget-deleted-users.ts';

export const eventTopology = (namespace: string): EventTopology => ({
  // The auth stream is the auth service's; it is ensured here too so that the two setup steps may run in
  // any order (the durable consumer below needs it). Both apply the same definition.
  streams: [todoEventsStream(namespace), authEventsStream(namespace), deadLetterStream(namespace)],
  consumers: [forgetDeletedUsersConsumer(namespace)],
});
