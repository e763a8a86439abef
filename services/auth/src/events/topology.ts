/** What the auth service needs in JetStream, created by the setup step (`npm run migrate`). */
import { authEventsStream, deadLetterStream, type EventTopology } from '@todo/platform/events';

export const eventTopology = (namespace: string): EventTopology => ({
  streams: [authEventsStream(namespace), deadLetterStream(namespace)],
  consumers: [],
});
