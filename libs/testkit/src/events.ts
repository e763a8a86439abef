/** Creates a test's streams and durable consumers, as the setup step does before a deployment starts. */
import { type EventTopology, setUpEvents } from '@todo/platform/events';
import { connect } from '@nats-io/transport-node';

export async function provisionEvents(natsUrl: string, topology: EventTopology): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    await setUpEvents(nc, topology);
  } finally {
    await nc.close();
  }
}
