import { OutboxEventSchema } from '@todo/platform/events';
import { TodoSchema } from './todo.entity.ts';

export const entities = [TodoSchema, OutboxEventSchema];
