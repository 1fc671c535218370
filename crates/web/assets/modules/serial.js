// Refreshes that must not overlap: a burst of live events becomes one fetch
// running and at most one more after it.

/** Runs `fn` at most once at a time; calls made meanwhile run once more after. */
export function serial(fn) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        do { again = false; await fn(); } while (again);
      } catch (e) {
        if (e.status !== 401) console.warn(e);
      } finally {
        running = null;
      }
    })();
    return running;
  };
  return run;
}
