import { Agent, type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { commitsDurable, durableCommits } from '../store/durability.ts';

/**
 * An undici interceptor that holds each request back until every commit of this process so far is durable
 * (`durableCommits`; docs/architecture.md "Durability"): an AS4 message, an EDS report or a propagation leaves only
 * once the state it comes from survives a power loss. Passes the request on at once when nothing is pending. A
 * failed sync fails the request (the caller retries or answers 5xx), as a failed connection would.
 */
export const commitsFirst: Dispatcher.DispatcherComposeInterceptor = (dispatch) =>
  function commitsFirstDispatch(options, handler) {
    if (commitsDurable()) return dispatch(options, handler);
    durableCommits().then(
      () => {
        try {
          dispatch(options, handler);
        } catch (err) {
          handler.onResponseError?.(null as never, err as Error);
        }
      },
      (err: unknown) => handler.onResponseError?.(null as never, err as Error),
    );
    return true;
  };

/**
 * The node's HTTP client connections: an undici `Agent` with `options` whose requests wait for the node's commits
 * ({@link commitsFirst}). Every client of the node (the AP's AS4 sends, EDS reports, token requests, EER's
 * propagation, JWKS fetches) is one of these.
 *
 * @example
 * const dispatcher = nodeAgent({ connect: { ca, cert, key } });
 * await request(url, { method: 'POST', body, dispatcher });
 */
export function nodeAgent(options?: Agent.Options): Agent {
  // `compose` gives the agent itself behind a proxy that replaces only `dispatch`: still an Agent to its users.
  return new Agent(options).compose(commitsFirst) as unknown as Agent;
}

let globalComposed = false;

/**
 * Make the process's global dispatcher (undici's and Node's own `fetch` without a `dispatcher`) wait for the node's
 * commits too. Once per process; a node calls it at its start.
 */
export function commitsFirstGlobally(): void {
  if (globalComposed) return;
  globalComposed = true;
  setGlobalDispatcher(getGlobalDispatcher().compose(commitsFirst));
}
