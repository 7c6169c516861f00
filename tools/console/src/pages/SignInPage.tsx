import { useState } from "react";
import { useSearch } from "wouter";
import { signIn, tokenClaims } from "../auth/session";

/** Paste a token (or follow the address `npm start` prints, which signs in by itself). */
export function SignInPage({
  refusal,
  onSignedIn,
}: {
  refusal: string | null;
  onSignedIn: (next: string) => void;
}) {
  const search = useSearch();
  const [token, setToken] = useState("");
  const claims = tokenClaims(token.trim() || null);
  const looksLikeJwt = /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token.trim());
  const next = new URLSearchParams(search).get("next");
  const safeNext = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
  return (
    <main className="sign-in" id="main">
      <form
        className="card sign-in-card"
        onSubmit={(e) => {
          e.preventDefault();
          if (!looksLikeJwt) return;
          signIn(token);
          onSignedIn(safeNext);
        }}
      >
        <h1>
          <span className="brand-mark" aria-hidden="true">
            P
          </span>{" "}
          Sign in to Pro-code
        </h1>
        {refusal ? (
          <div className="note note-error" role="alert">
            The platform refused the token: {refusal}
          </div>
        ) : null}
        <p className="muted">
          <code>npm start</code> prints an address that signs this browser in for team <code>default</code>.
          Or paste a bearer token (a JWT with <code>sub</code> and <code>team</code>):
        </p>
        <label htmlFor="token">Token</label>
        <textarea
          id="token"
          rows={4}
          spellCheck={false}
          autoComplete="off"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          placeholder="eyJhbGciOiJIUzI1NiJ9…"
        />
        <p className="hint" aria-live="polite">
          {token.trim() === ""
            ? "The token stays in this tab only (session storage) and is sent to the API as a bearer token."
            : looksLikeJwt
              ? `Team ${claims.team ?? "?"}, as ${claims.sub ?? "?"}${claims.exp ? `, valid until ${new Date(claims.exp * 1000).toLocaleString()}` : ""}.`
              : "This does not look like a JWT (three dot-separated parts)."}
        </p>
        <button type="submit" className="button button-primary" aria-disabled={!looksLikeJwt}>
          Sign in
        </button>
      </form>
    </main>
  );
}
