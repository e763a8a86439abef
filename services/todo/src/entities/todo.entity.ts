import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

export const TodoSchema = defineEntity({
  name: 'Todo',
  tableName: 'todos',
  properties: {
    id: p.uuid().primary(),
    ownerId: p.uuid(),
    title: p.text(),
    description: p.text().nullable(),
    done: p.boolean(),
    dueAt: p.datetime().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    version: p.integer(),
  },
});

export type Todo = InferEntity<typeof TodoSchema>;
