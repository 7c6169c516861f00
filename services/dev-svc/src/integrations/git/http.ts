import { fetch as undiciFetch, type RequestInit, type Response } from "undici";
import {
  checkOutboundUrl,
  createGuardedDispatcher,
  errorMessage,
  UrlRefusedError,
  type UrlPolicy,
} from "@procode/service-kit";
import { GitProviderError } from "./errors.js";

/**
 * HTTP to git providers whose address comes from a user's repository URL (guarded against SSRF): https only
 * unless allowed, no loopback/private/link-local/metadata addresses unless the host is allowlisted,
 * checked when the socket connects (so DNS rebinding cannot slip through) and again on each redirect.
 */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface GuardedHttp {
  fetch: FetchLike;
  close(): Promise<void>;
}

/** A fetch for provider APIs under `policy`; one per service (it pools connections). */
export function createGuardedHttp(policy: UrlPolicy): GuardedHttp {
  const dispatcher = createGuardedDispatcher(policy, { timeoutMs: 10000, connections: 32 });

  const fetchFn: FetchLike = async (input, init = {}) => {
    let url = checkUrl(String(input), policy);
    const method = (init.method ?? "GET").toUpperCase();
    for (let hop = 0; ; hop++) {
      const res = await undiciFetch(url, { ...init, redirect: "manual", dispatcher: dispatcher.for(url) });
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location && (method === "GET" || method === "HEAD")) {
        await res.body?.cancel().catch(() => {});
        if (hop >= 3) throw new GitProviderError("rejected", "the provider redirected too many times");
        url = checkUrl(new URL(location, url).toString(), policy);
        continue;
      }
      return res;
    }
  };
  return {
    fetch: fetchFn,
    close: () => dispatcher.close(),
  };
}

function checkUrl(raw: string, policy: UrlPolicy): URL {
  try {
    return checkOutboundUrl(raw, policy);
  } catch (err) {
    const where = (() => {
      try {
        return new URL(raw).host;
      } catch {
        return "the repository host";
      }
    })();
    throw new GitProviderError("not_allowed", `${where} may not be contacted: ${errorMessage(err)}`);
  }
}

/** A network-level failure (refused, reset, DNS, TLS) as a transient provider error. */
export function networkFailure(provider: string, op: string, err: unknown): GitProviderError {
  if (err instanceof GitProviderError) return err;
  const cause = (err as { cause?: unknown })?.cause;
  if (err instanceof UrlRefusedError || cause instanceof UrlRefusedError) {
    return new GitProviderError(
      "not_allowed",
      `${provider} may not be contacted: ${errorMessage(cause ?? err)}`,
    );
  }
  const code = (cause as { code?: string } | undefined)?.code ?? (err as { code?: string })?.code;
  const detail = code ?? errorMessage(cause ?? err);
  return new GitProviderError("unavailable", `${provider} is unreachable (${op}: ${detail})`, null, true);
}
