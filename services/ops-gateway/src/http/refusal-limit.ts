/**
 * A per-address limit on refused calls (docs/services/ops-gateway.md, "Callback"): an address whose
 * calls were refused `max` times within `windowMs` is answered 429 until the window ends, whatever it
 * sends. Calls that were accepted never count, so the ops module, one address calling back for
 * every deployment, is never slowed however busy it is; a caller guessing signatures or deployment
 * ids is stopped after `max` tries.
 */
export class RefusalLimit {
  private readonly byAddress = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly opts: { max: number; windowMs: number }) {}

  /** Seconds until the address may call again, or 0 when it may call now. */
  blockedFor(address: string, now = Date.now()): number {
    const e = this.byAddress.get(address);
    if (!e || e.resetAt <= now || e.count < this.opts.max) return 0;
    return Math.max(1, Math.ceil((e.resetAt - now) / 1000));
  }

  /** Counts a refused call of the address. */
  refused(address: string, now = Date.now()): void {
    const e = this.byAddress.get(address);
    if (!e || e.resetAt <= now) {
      if (this.byAddress.size >= 10_000) this.forgetExpired(now);
      this.byAddress.set(address, { count: 1, resetAt: now + this.opts.windowMs });
    } else {
      e.count++;
    }
  }

  private forgetExpired(now: number): void {
    for (const [address, e] of this.byAddress) if (e.resetAt <= now) this.byAddress.delete(address);
  }
}
