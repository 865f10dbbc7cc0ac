import { useEffect, useState } from 'preact/hooks';
import type { CallState, CallStore } from './call-store.ts';

/** Re-renders the component whenever the store changes. */
export function useCall(store: CallStore): CallState {
  const [state, setState] = useState(store.state);
  useEffect(() => store.subscribe(() => setState(store.state)), [store]);
  return state;
}

/** The current time, refreshed every `everyMs` (timers, waited time). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
