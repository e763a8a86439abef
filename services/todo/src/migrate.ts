/** `npm run migrate`: the todo service's setup step (schema migrations, streams, durable consumers), then exit. */
import { runSetup } from '@todo/platform/service';
import { todoService } from './definition.ts';

await runSetup(todoService);
