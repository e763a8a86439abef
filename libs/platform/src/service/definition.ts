/**
 * A service, described once: its name, its configuration, its database schema, what it needs in JetStream
 * and its documents. The process entry points (`runService`, `runSetup`), the tests and the image all
 * work from this description; the service itself adds only what it builds on the shared
 * foundation (`ServiceBuilder`).
 */
import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import type Koa from 'koa';
import type { z } from 'zod';
import type { BaseConfig } from '../config.ts';
import type { MikroORM } from '../db/connect.ts';
import type { Broker } from '../events/connection.ts';
import type { Outbox } from '../events/outbox.ts';
import type { EventTopology } from '../events/setup.ts';
import type { HttpMetrics } from '../http/metrics.ts';
import type { ReadinessDetail } from '../http/ops.ts';
import type { Logger } from '../logger.ts';

/** What every service's configuration has: the shared settings and its two ports. */
export type ServiceConfig = BaseConfig & { PORT: number; OPS_PORT: number };

export interface ServiceDefinition<C extends ServiceConfig = ServiceConfig> {
  /** `auth`, `todo`: names the logs, the metrics, the NATS user's inbox, the CloudEvents source. */
  name: string;
  config: z.ZodType<C>;
  database: {
    /** The service's own PostgreSQL schema. */
    schema: string;
    // biome-ignore lint/suspicious/noExplicitAny: entity schemas are heterogeneous by nature
    entities: EntitySchema<any, any>[];
    /** Every migration, in order. */
    migrations: MigrationObject[];
  };
  /** The streams and durable consumers the setup step creates, under an events namespace. */
  events: (namespace: string) => EventTopology;
  /** Served on the ops port: the OpenAPI document at /openapi.json and /docs, the AsyncAPI one at /docs/events. */
  docs: { title: string; api: string; events: string };
}

export const defineService = <C extends ServiceConfig>(definition: ServiceDefinition<C>) => definition;

/** What every service gets before it builds anything of its own. */
export interface ServiceFoundation<C extends ServiceConfig> {
  config: Readonly<C>;
  logger: Logger;
  metrics: HttpMetrics;
  orm: MikroORM;
  broker: Broker;
  /** This service's outbox; its relay is already running. */
  outbox: Outbox;
}

export interface ServiceParts<X> {
  // biome-ignore lint/suspicious/noExplicitAny: each service's app has its own state type
  app: Koa<any>;
  /** Readiness details beyond NATS and the outbox (e.g. the revocation feed). */
  details?: Record<string, ReadinessDetail>;
  /** Stops what the builder started; runs after the HTTP servers drained, before the outbox, NATS and the pool close. */
  stop?: () => Promise<void>;
  /** What tests and commands may reach on the running service. */
  handles: X;
}

/** The service's own part: everything it builds on the foundation. */
export type ServiceBuilder<C extends ServiceConfig, X> = (foundation: ServiceFoundation<C>) => Promise<ServiceParts<X>>;
