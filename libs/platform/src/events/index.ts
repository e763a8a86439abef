export { type Backlog, registerBacklogGauges } from './backlog.ts';
export {
  type Broker,
  type BrokerState,
  connectBroker,
  type NatsConnection,
  type NatsSettings,
  natsConnectionOptions,
  openBroker,
  redactNatsUrl,
} from './connection.ts';
export {
  type DurableConsumerOptions,
  type Follower,
  type FollowerHealth,
  type FollowOptions,
  followStream,
  type RunningConsumer,
  startDurableConsumer,
} from './consumers.ts';
export {
  type CloudEvent,
  ContractViolation,
  cloudEventSchema,
  type EventData,
  type EventType,
  eventContracts,
  eventSubject,
  isEventType,
  type KnownEvent,
  parseEvent,
  rfc3339DateTime,
  SESSION_REVOKED,
  type SessionRevoked,
  sessionRevokedData,
  TODO_CREATED,
  TODO_DELETED,
  TODO_UPDATED,
  type TodoChanged,
  type TodoDeleted,
  type TodoRepresentation,
  todoChangedData,
  todoDeletedData,
  todoFields,
  todoRepresentation,
  USER_DELETED,
  USER_EMAIL_VERIFIED,
  USER_REGISTERED,
  type UserDeleted,
  type UserRegistered,
  userDeletedData,
  userRegisteredData,
} from './contracts.ts';
export { deadLetter } from './dead-letters.ts';
export {
  Outbox,
  type OutboxBacklog,
  type OutboxEvent,
  OutboxEventSchema,
  OutboxRelay,
  type OutboxRelayOptions,
} from './outbox.ts';
export { type EventReadinessParts, eventReadiness, followerReadiness } from './readiness.ts';
export { FailureStreak, Pause } from './relay-loop.ts';
export { type DurableConsumerDefinition, type EventTopology, type SetupReport, setUpEvents } from './setup.ts';
export {
  authEventsStream,
  deadLetterStream,
  deadLetterSubject,
  type StreamDefinition,
  subjectOf,
  todoEventsStream,
  typeOfSubject,
} from './streams.ts';
