/** The auth service process: the only module with side effects. */
import { runService } from '@todo/platform/service';
import { authService } from './definition.ts';
import { buildAuthService } from './service.ts';

await runService(authService, buildAuthService);
