/** The todo service, described once: what `npm start`, the setup step, the image and the tests work from. */
import { fileURLToPath } from 'node:url';
import { defineService } from '@todo/platform/service';
import { todoConfigSchema } from './config.ts';
import { entities } from './entities/index.ts';
import { eventTopology } from './events/topology.ts';
import { migrations } from './migrations/index.ts';

const specs = (path: string) => fileURLToPath(new URL(`../../../specs/${path}`, import.meta.url));

export const todoService = defineService({
  name: 'todo',
  config: todoConfigSchema,
  database: { schema: 'todo', entities, migrations },
  events: eventTopology,
  docs: { title: 'Todo API', api: specs('api/todo.openapi.yaml'), events: specs('events/asyncapi.yaml') },
});
