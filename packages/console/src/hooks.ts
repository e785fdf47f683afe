import { useCallback, useEffect, useRef, useState } from 'react';
import { api, type Organisation } from './api.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `path` from the console API, again when it changes, and every `everyMs` while the page is visible (the
 * live updates of a list: a poll that pauses in a background tab).
 */
export function useApi<T>(path: string | null, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const current = useRef(path);
  current.current = path;
  const reload = useCallback(() => setTick((n) => n + 1), []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: tick asks for a reload
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setLoading(true);
    api<T>(path)
      .then((d) => {
        if (live && current.current === path) {
          setData(d);
          setError(undefined);
        }
      })
      .catch((e) => {
        if (live) setError(e);
      })
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
    };
  }, [path, tick]);

  useEffect(() => {
    if (!everyMs) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs, reload]);

  return { data, error, loading, reload };
}

let organisations: Promise<Organisation[]> | undefined;

/** The organisations the user may see (`/api/organisations`), asked once per page load. */
export function useOrganisations(): { list: Organisation[]; names: Record<string, string> } {
  const [list, setList] = useState<Organisation[]>([]);
  useEffect(() => {
    organisations ??= api<Organisation[]>('/organisations').catch(() => {
      organisations = undefined;
      return [];
    });
    let live = true;
    organisations.then((l) => {
      if (live) setList(l);
    });
    return () => {
      live = false;
    };
  }, []);
  const names: Record<string, string> = {};
  for (const o of list) if (o.gln) names[o.gln] = o.name;
  return { list, names };
}
