// A periodic job: runs `work` every `intervalMs` (≤ 0: only when ticked by hand), never twice at once, and stops cleanly.

export interface Periodic<T> {
  /** Runs the work now, or joins the run in progress; resolves null after a failure or once stopped. */
  tick(): Promise<T | null>;
  /** Stops the timer and waits for a run in progress; `final` runs the work one last time first. */
  stop(final?: boolean): Promise<void>;
}

export function periodic<T>(work: () => Promise<T>, intervalMs: number, onError: (err: unknown) => void): Periodic<T> {
  let running: Promise<T | null> | null = null;
  let stopped = false;
  const tick = (): Promise<T | null> => {
    if (stopped) return Promise.resolve(null);
    running ??= work()
      .catch((err: unknown) => {
        onError(err);
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = intervalMs > 0 ? setInterval(() => void tick(), intervalMs) : null;
  timer?.unref();
  return {
    tick,
    async stop(final = false) {
      if (timer) clearInterval(timer);
      await running;
      if (final && !stopped) await tick();
      stopped = true;
    },
  };
}
