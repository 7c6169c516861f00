/**
 * The one backoff formula of the platform: the delay before retry `attempt` (1-based) is
 * `baseMs * 2^(attempt - 1)`, capped at `capMs`, spread by `jitter` (a fraction: 0.2 is +-20%) so
 * that many retries started together do not stay in step. `random` (in [0, 1)) is passed in by
 * pure code that must decide the same way every time; it defaults to Math.random.
 *
 * Pure, with no imports: domain code may use it (`@procode/service-kit/backoff`).
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  jitter = 0.2,
  random: number = Math.random(),
): number {
  const raw = Math.min(capMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  const spread = raw * jitter;
  return Math.max(0, Math.round(raw - spread + random * 2 * spread));
}
