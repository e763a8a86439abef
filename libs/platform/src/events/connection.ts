/**
 * The NATS connection a service holds for its lifetime: the first connect is retried with backoff
 * until a deadline (so a broker that starts a moment later is fine), later drops reconnect forever.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logger.ts';

export type { NatsConnection } from '@nats-io/transport-node';

export interface BrokerOptions {
  url: string;
  name: string;
  logger: Logger;
  deadlineMs?: number;
}

export async function connectBroker({
  url,
  name,
  logger,
  deadlineMs = 30_000,
}: BrokerOptions): Promise<NatsConnection> {
  const giveUpAt = Date.now() + deadlineMs;
  let wait = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await connect({
        servers: url,
        name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1_000,
        timeout: 5_000,
      });
      void watchStatus(nc, logger);
      return nc;
    } catch (err) {
      if (Date.now() + wait > giveUpAt) {
        throw new Error(`could not connect to NATS at ${redactUrl(url)} after ${attempt} attempts`, { cause: err });
      }
      logger.warn({ attempt, retryInMs: wait, reason: (err as Error).message }, 'NATS not reachable yet');
      await delay(wait);
      wait = Math.min(wait * 2, 4_000);
    }
  }
}

async function watchStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === 'disconnect' || status.type === 'error') logger.warn({ nats: status.type }, 'NATS connection');
    else if (status.type === 'reconnect') logger.info({ nats: status.type }, 'NATS connection');
  }
}

const redactUrl = (url: string): string => url.replace(/\/\/[^@/]*@/, '//***@');

/** Readiness: a round trip to the server. */
export async function pingBroker(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) throw new Error('connection closed');
  await nc.flush();
}
