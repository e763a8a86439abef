export { type BrokerOptions, connectBroker, type NatsConnection, pingBroker } from './connection.ts';
