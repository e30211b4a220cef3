// metav1.Time and metav1.MicroTime as the API writes them: RFC 3339 in UTC, with whole seconds and with microseconds.

let cachedSecond = Number.NaN;
let cachedText = '';

/**
 * metav1.Time of an instant in ms since the epoch (default: now), e.g. "2026-11-24T21:43:03Z". The text of the last
 * second asked for is kept: the API server stamps every write, and the node agents every status, with the current one.
 */
export function metaTime(ms: number = Date.now()): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedText = new Date(second * 1000).toISOString().replace(/\.000Z$/, 'Z');
    cachedSecond = second;
  }
  return cachedText;
}

/** metav1.MicroTime of an instant in ms since the epoch (default: now), e.g. "2026-11-24T21:43:03.123000Z". */
export function microTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
