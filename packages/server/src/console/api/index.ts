import type { RegisterConsoleApi } from '../session.ts';
import { registerHealthRoutes } from './health.ts';
import { registerInboxRoutes } from './inbox.ts';
import { registerMessageRoutes } from './messages.ts';
import { registerPingRoutes } from './pings.ts';
import { registerRegisterRoutes } from './registers.ts';

/**
 * The console's data routes under `/api`: each reads the signed-in user from `request.consoleUser` and the
 * network's public APIs with `request.callApi(service, path, init)`, as that user, so the resource servers decide
 * what the user sees and record each read of patient data in their audit logs. Nothing is cached but register names;
 * the health page's charts read the readings the console's sampler stores (`console/sampler.ts`).
 */
export const registerConsoleApi: RegisterConsoleApi = async (app, deps) => {
  registerMessageRoutes(app, deps);
  registerInboxRoutes(app, deps);
  registerRegisterRoutes(app, deps);
  registerHealthRoutes(app, deps);
  registerPingRoutes(app, deps);
};
