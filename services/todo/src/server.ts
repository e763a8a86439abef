/** The todo service process: the only module with side effects. */
import { runService } from '@todo/platform/http';
import { todoConfigSchema } from './config.ts';
import { SERVICE_NAME, startTodoService } from './service.ts';

await runService(SERVICE_NAME, todoConfigSchema, startTodoService);
