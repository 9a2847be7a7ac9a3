/** Waiting helpers that never keep a stopped program alive. */

/** Resolve after `ms`, or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A promise that resolves when `signal` aborts, and a way to stop listening. */
export function whenAborted(signal: AbortSignal): { promise: Promise<void>; dispose: () => void } {
  let dispose = (): void => {};
  const promise = new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const listener = (): void => resolve();
    signal.addEventListener("abort", listener, { once: true });
    dispose = () => signal.removeEventListener("abort", listener);
  });
  return { promise, dispose };
}

/**
 * Exponential backoff with jitter: `initial * multiplier^(failures-1)`, capped at `max`, times
 * a random factor in [0.5, 1) so that many clients reconnecting after a restart spread out.
 */
export function backoffDelay(failures: number, initialMs: number, maxMs: number, multiplier: number): number {
  const base = Math.min(initialMs * multiplier ** Math.max(0, failures - 1), maxMs);
  return base * (0.5 + Math.random() * 0.5);
}
