import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { readPush, redactPayload } from "../src/domain/push-event.js";
import {
  giteeSignature,
  githubSignatureValid,
  gitlabSignatureValid,
  keptHeaders,
  localSignature,
  verifyDelivery,
} from "../src/git/webhook-signatures.js";

const NOW = Date.parse("2026-03-01T10:00:00Z");
const opts = { now: NOW, maxAgeSec: 300, giteeMaxAgeSec: 3600 };
const A = "a".repeat(40);
const B = "b".repeat(40);

describe("GitHub X-Hub-Signature-256", () => {
  // GitHub's published example (docs: "Validating webhook deliveries", testing the signature).
  const secret = "It's a Secret to Everybody";
  const payload = "Hello, World!";
  const signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

  it("accepts GitHub's published test vector", () => {
    expect(githubSignatureValid(secret, Buffer.from(payload), signature)).toBe(true);
    expect(
      verifyDelivery("GITHUB", secret, Buffer.from(payload), { "x-hub-signature-256": signature }, opts),
    ).toMatchObject({
      ok: true,
    });
  });

  it("refuses a tampered body, a wrong secret, a truncated or missing signature", () => {
    expect(githubSignatureValid(secret, Buffer.from("Hello, World?"), signature)).toBe(false);
    expect(githubSignatureValid("another secret", Buffer.from(payload), signature)).toBe(false);
    expect(githubSignatureValid(secret, Buffer.from(payload), signature.slice(0, -2))).toBe(false);
    expect(githubSignatureValid(secret, Buffer.from(payload), signature.replace("sha256=", "sha1="))).toBe(
      false,
    );
    const v = verifyDelivery("GITHUB", secret, Buffer.from(payload), {}, opts);
    expect(v).toMatchObject({ ok: false, reason: "X-Hub-Signature-256 is missing" });
  });
});

describe("GitLab", () => {
  const secret = "gitlab-secret";
  const body = Buffer.from(JSON.stringify({ object_kind: "push" }));

  it("accepts the X-Gitlab-Token equal to the secret, and nothing else", () => {
    expect(
      verifyDelivery("GITLAB", secret, body, { "x-gitlab-token": secret, "idempotency-key": "k-1" }, opts),
    ).toEqual({
      ok: true,
      deliveryId: "k-1",
      event: null,
    });
    expect(verifyDelivery("GITLAB", secret, body, { "x-gitlab-token": "gitlab-secreT" }, opts).ok).toBe(
      false,
    );
    expect(verifyDelivery("GITLAB", secret, body, { "x-gitlab-token": `${secret} ` }, opts).ok).toBe(false);
    expect(verifyDelivery("GITLAB", secret, body, {}, opts)).toMatchObject({
      ok: false,
      reason: "X-Gitlab-Token is missing",
    });
  });

  it("accepts the signing-token scheme (webhook-signature) inside the time window only", () => {
    const id = "0b8c0c3e-1111-4222-8333-944455556666";
    const ts = String(NOW / 1000 - 10);
    const sig = `v1,${createHmac("sha256", secret).update(`${id}.${ts}.${body.toString()}`).digest("base64")}`;
    const headers = { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig };
    expect(verifyDelivery("GITLAB", secret, body, headers, opts)).toMatchObject({ ok: true, deliveryId: id });
    expect(gitlabSignatureValid(secret, id, ts, body, `v1,bogus ${sig}`)).toBe(true);
    const stale = { ...headers, "webhook-timestamp": String(NOW / 1000 - 301) };
    expect(verifyDelivery("GITLAB", secret, body, stale, opts)).toMatchObject({ ok: false });
    expect(verifyDelivery("GITLAB", secret, Buffer.from(`${body.toString()} `), headers, opts).ok).toBe(
      false,
    );
    // A valid token does not rescue a bad signature.
    expect(
      verifyDelivery(
        "GITLAB",
        secret,
        body,
        { ...headers, "webhook-signature": "v1,AAAA", "x-gitlab-token": secret },
        opts,
      ).ok,
    ).toBe(false);
    // whsec_ keys are base64 key material (Standard Webhooks).
    const key = Buffer.from("0123456789abcdef0123456789abcdef");
    const whsec = `whsec_${key.toString("base64")}`;
    const sig2 = `v1,${createHmac("sha256", key).update(`${id}.${ts}.${body.toString()}`).digest("base64")}`;
    expect(gitlabSignatureValid(whsec, id, ts, body, sig2)).toBe(true);
  });
});

describe("Gitee", () => {
  const secret = "gitee-secret";
  const body = Buffer.from(JSON.stringify({ hook_name: "push_hooks" }));

  it("computes the documented signature: base64(HMAC-SHA256(secret, timestamp + \\n + secret))", () => {
    const ts = "1576754827988";
    const expected = createHmac("sha256", secret).update(`${ts}\n${secret}`).digest("base64");
    expect(giteeSignature(secret, ts)).toBe(expected);
  });

  it("accepts a signature or the password within Gitee's window, refuses stale, forged or missing ones", () => {
    const ts = String(NOW - 60_000);
    const sign = giteeSignature(secret, ts);
    expect(
      verifyDelivery("GITEE", secret, body, { "x-gitee-token": sign, "x-gitee-timestamp": ts }, opts).ok,
    ).toBe(true);
    expect(
      verifyDelivery("GITEE", secret, body, { "x-gitee-token": secret, "x-gitee-timestamp": ts }, opts).ok,
    ).toBe(true);
    const old = String(NOW - 3601_000);
    expect(
      verifyDelivery(
        "GITEE",
        secret,
        body,
        { "x-gitee-token": giteeSignature(secret, old), "x-gitee-timestamp": old },
        opts,
      ),
    ).toMatchObject({ ok: false, reason: "X-Gitee-Timestamp is outside the 3600 s window" });
    // A signature made for another timestamp does not fit this one.
    expect(
      verifyDelivery("GITEE", secret, body, { "x-gitee-token": sign, "x-gitee-timestamp": String(NOW) }, opts)
        .ok,
    ).toBe(false);
    expect(verifyDelivery("GITEE", secret, body, { "x-gitee-token": sign }, opts).ok).toBe(false);
  });
});

describe("LOCAL (post-receive hook)", () => {
  const secret = "local-secret";
  const make = (ts: number, over: Record<string, unknown> = {}) => {
    const payload = {
      event: "push",
      deliveryId: "d-1",
      timestamp: ts,
      ref: "refs/heads/main",
      before: A,
      after: B,
      ...over,
    };
    const body = Buffer.from(JSON.stringify(payload));
    return {
      body,
      headers: {
        "x-procode-event": "push",
        "x-procode-delivery": "d-1",
        "x-procode-timestamp": String(ts),
        "x-procode-signature-256": localSignature(secret, body),
      },
    };
  };

  it("accepts a fresh signed delivery; refuses stale, tampered, and swapped headers", () => {
    const ok = make(NOW / 1000 - 5);
    expect(verifyDelivery("LOCAL", secret, ok.body, ok.headers, opts)).toEqual({
      ok: true,
      deliveryId: "d-1",
      event: "push",
    });
    const stale = make(NOW / 1000 - 400);
    expect(verifyDelivery("LOCAL", secret, stale.body, stale.headers, opts)).toMatchObject({ ok: false });
    expect(
      verifyDelivery("LOCAL", secret, Buffer.from(ok.body.toString().replace(B, A)), ok.headers, opts).ok,
    ).toBe(false);
    // A fresh timestamp header on an old signed body: the body's own timestamp gives it away.
    const swapped = { ...stale.headers, "x-procode-timestamp": String(NOW / 1000) };
    expect(verifyDelivery("LOCAL", secret, stale.body, swapped, opts)).toMatchObject({
      ok: false,
      reason: "the timestamp or delivery id headers differ from the signed body",
    });
  });
});

describe("stored form of a delivery", () => {
  it("keeps identifying headers only, and drops secrets from the payload", () => {
    const kept = keptHeaders({
      "x-gitlab-token": "secret",
      "x-hub-signature-256": "sha256=..",
      "x-gitee-token": "t",
      authorization: "Bearer x",
      "x-github-delivery": "abc",
      "x-gitee-timestamp": "1",
    });
    expect(kept).toEqual({ "x-github-delivery": "abc", "x-gitee-timestamp": "1" });
    expect(redactPayload({ password: "pwd", sign: "s", ref: "refs/heads/main" })).toEqual({
      ref: "refs/heads/main",
    });
  });
});

describe("reading pushes", () => {
  it("reads branch and tag pushes of each provider, creations and deletions", () => {
    expect(
      readPush("GITLAB", "Push Hook", { object_kind: "push", ref: "refs/heads/main", before: A, after: B }),
    ).toEqual({
      kind: "update",
      update: { kind: "branch", name: "main", ref: "refs/heads/main", before: A, after: B },
    });
    expect(
      readPush("GITLAB", "Tag Push Hook", {
        object_kind: "tag_push",
        ref: "refs/tags/v1.0.0",
        before: "0".repeat(40),
        after: B,
      }),
    ).toMatchObject({ kind: "update", update: { kind: "tag", name: "v1.0.0", before: null, after: B } });
    expect(
      readPush("GITHUB", "push", { ref: "refs/heads/feature/x", before: A, after: "0".repeat(40) }),
    ).toMatchObject({
      update: { kind: "branch", name: "feature/x", after: null },
    });
    expect(
      readPush("GITEE", "Tag Push Hook", {
        hook_name: "tag_push_hooks",
        ref: "refs/tags/v2",
        before: A,
        after: B,
      }),
    ).toMatchObject({
      update: { kind: "tag", name: "v2" },
    });
    expect(readPush("LOCAL", "push", { ref: "refs/heads/main", before: A, after: B })).toMatchObject({
      kind: "update",
    });
  });

  it("ignores what is not a push, and payloads that do not read as one", () => {
    expect(readPush("GITHUB", "ping", { zen: "x" })).toMatchObject({ kind: "ignored" });
    expect(readPush("GITLAB", "Merge Request Hook", { object_kind: "merge_request" })).toMatchObject({
      kind: "ignored",
    });
    expect(readPush("GITHUB", "push", { ref: "refs/heads/main", before: "nope", after: B })).toMatchObject({
      kind: "ignored",
    });
    expect(readPush("GITHUB", "push", { ref: "refs/notes/x", before: A, after: B })).toMatchObject({
      kind: "ignored",
    });
    expect(readPush("GITHUB", "push", [1, 2])).toMatchObject({ kind: "ignored" });
  });
});
