export { type BrokerOptions, connectBroker, type NatsConnection, pingBroker } from './connection.ts';
export {
  type DurableConsumerOptions,
  type FollowOptions,
  followEvents,
  type RunningConsumer,
  startDurableConsumer,
} from './consumers.ts';
export {
  type CloudEvent,
  cloudEventSchema,
  type EventData,
  type EventType,
  eventContracts,
  parseEvent,
  SESSION_REVOKED,
  type SessionRevoked,
  sessionRevokedData,
  USER_DELETED,
  type UserDeleted,
  userDeletedData,
} from './contracts.ts';
export { Outbox, type OutboxEvent, OutboxEventSchema, OutboxRelay, type OutboxRelayOptions } from './outbox.ts';
export { authEventsStream, ensureStream, type StreamDefinition, subjectOf } from './streams.ts';
