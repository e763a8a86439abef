/** The auth service process: the only module with side effects. */
import { runService } from '@todo/platform/main';

// Imported by runService, after tracing (when configured) has hooked the module loader: koa and pg, which the
// service imports, are instrumented only if they load after that.
await runService(async () => ({
  definition: (await import('./definition.ts')).authService,
  build: (await import('./service.ts')).buildAuthService,
}));
