/** The auth service process: the only module with side effects. */
import { runService } from '@todo/platform/http';
import { authConfigSchema } from './config.ts';
import { SERVICE_NAME, startAuthService } from './service.ts';

await runService(SERVICE_NAME, authConfigSchema, startAuthService);
