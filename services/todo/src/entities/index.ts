import { TodoSchema } from './todo.entity.ts';

export const entities = [TodoSchema];
