/** The auth service, described once: what `npm start`, the setup step, the image and the tests work from. */
import { fileURLToPath } from 'node:url';
import { defineService } from '@todo/platform/service';
import { authConfigSchema } from './config.ts';
import { entities } from './entities/index.ts';
import { eventTopology } from './events/topology.ts';
import { migrations } from './migrations/index.ts';

const specs = (path: string) => fileURLToPath(new URL(`../../../specs/${path}`, import.meta.url));

export const authService = defineService({
  name: 'auth',
  config: authConfigSchema,
  database: { schema: 'auth', entities, migrations },
  events: eventTopology,
  docs: { title: 'Auth API', api: specs('api/auth.openapi.yaml'), events: specs('events/asyncapi.yaml') },
});
