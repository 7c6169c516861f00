import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { SealedSecret } from "@procode/contracts";

/**
 * AES-256-GCM with a key ring. Keys come from the environment as
 * `ENCRYPTION_KEYS=<id>:<base64 32 bytes>[,<id>:<base64>...]`; the first key seals, every key opens,
 * and each ciphertext records the id of the key that sealed it so keys can rotate.
 * Ciphertext layout: base64(iv[12] | tag[16] | ciphertext).
 */
export class KeyRing {
  private readonly keys = new Map<string, Buffer>();
  readonly activeKeyId: string;

  constructor(spec: string) {
    const entries = spec
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (entries.length === 0) throw new Error("ENCRYPTION_KEYS: no key given");
    for (const entry of entries) {
      const idx = entry.indexOf(":");
      if (idx <= 0) throw new Error("ENCRYPTION_KEYS: each key is <id>:<base64 of 32 bytes>");
      const id = entry.slice(0, idx);
      const key = Buffer.from(entry.slice(idx + 1), "base64");
      if (key.length !== 32)
        throw new Error(`ENCRYPTION_KEYS: key "${id}" is ${key.length} bytes, must be 32`);
      if (this.keys.has(id)) throw new Error(`ENCRYPTION_KEYS: key id "${id}" repeats`);
      this.keys.set(id, key);
    }
    this.activeKeyId = entries[0]!.slice(0, entries[0]!.indexOf(":"));
  }

  static generateSpec(id = "k1"): string {
    return `${id}:${randomBytes(32).toString("base64")}`;
  }

  hasKey(id: string): boolean {
    return this.keys.has(id);
  }

  seal(plaintext: string, aad = ""): SealedSecret {
    const key = this.keys.get(this.activeKeyId)!;
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    if (aad) cipher.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return {
      keyId: this.activeKeyId,
      ciphertext: Buffer.concat([iv, cipher.getAuthTag(), ct]).toString("base64"),
    };
  }

  open(sealed: SealedSecret, aad = ""): string {
    const key = this.keys.get(sealed.keyId);
    if (!key) throw new Error(`no key "${sealed.keyId}" in the key ring`);
    const raw = Buffer.from(sealed.ciphertext, "base64");
    if (raw.length < 28) throw new Error("ciphertext too short");
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    if (aad) decipher.setAAD(Buffer.from(aad));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  }

  /** Re-seals under the active key (key rotation); returns the input when already current. */
  reseal(sealed: SealedSecret, aad = ""): SealedSecret {
    return sealed.keyId === this.activeKeyId ? sealed : this.seal(this.open(sealed, aad), aad);
  }
}

export function hmacSha256Hex(secret: string | Buffer, data: string | Buffer): string {
  return createHmac("sha256", secret).update(data).digest("hex");
}

/** Constant-time comparison of two strings (false on length mismatch without early exit on content). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}
