/** The todo service process: the only module with side effects. */
import { runService } from '@todo/platform/service';
import { todoService } from './definition.ts';
import { buildTodoService } from './service.ts';

await runService(todoService, buildTodoService);
