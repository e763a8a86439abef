/** `npm run migrate`: the auth service's setup step (schema migrations, streams), then exit. */
import { runSetup } from '@todo/platform/service';
import { authService } from './definition.ts';

await runSetup(authService);
