/**
 * The console's sign-in: a bearer token kept in session storage (gone when the tab closes, never in
 * a cookie the API would accept from another site). `npm start` prints `/#token=...`; the fragment
 * never reaches a server, and it leaves the address bar as soon as the page has read it.
 */
const KEY = "procode.token";
const listeners = new Set<() => void>();

export function readToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signIn(token: string): void {
  sessionStorage.setItem(KEY, token.trim());
  for (const l of listeners) l();
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  for (const l of listeners) l();
}

/** Calls `listener` whenever the person signs in or out (useSyncExternalStore's subscribe). */
export function onTokenChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Takes `#token=...` from the address, stores it and removes it from the address bar and history. */
export function captureTokenFromUrl(): boolean {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return false;
  signIn(decodeURIComponent(match[1]!));
  window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search);
  return true;
}

/** The claims of a token, for showing who is signed in (not a check: the API verifies it). */
export function tokenClaims(token: string | null): { sub?: string; team?: string; exp?: number } {
  try {
    const payload = token?.split(".")[1];
    if (!payload) return {};
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json) as { sub?: string; team?: string; exp?: number };
  } catch {
    return {};
  }
}
