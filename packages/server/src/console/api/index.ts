import type { RegisterConsoleApi } from '../session.ts';

/**
 * The console's data routes under `/api` (console-ui's). Each route reads the signed-in user from
 * `request.consoleUser` and calls the network's public APIs with `request.callApi(service, path, init)`.
 */
export const registerConsoleApi: RegisterConsoleApi = async (_app, _deps) => {};
