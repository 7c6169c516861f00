import type { SealedSecret } from "@procode/contracts";
import type { KeyRing } from "@procode/service-kit";

/**
 * Sealing and opening of the secrets dev-svc holds: credential tokens (sealed here, bound to
 * their credential id so a ciphertext cannot be moved to another row) and the apps' webhook secrets
 * (sealed by app-svc with the same key ring, no binding data).
 */
export class Secrets {
  constructor(readonly keyRing: KeyRing) {}

  get activeKeyId(): string {
    return this.keyRing.activeKeyId;
  }

  sealToken(credentialId: string, token: string): SealedSecret {
    return this.keyRing.seal(token, tokenAad(credentialId));
  }

  openToken(credentialId: string, sealed: SealedSecret): string {
    return this.keyRing.open(sealed, tokenAad(credentialId));
  }

  resealToken(credentialId: string, sealed: SealedSecret): SealedSecret {
    return this.keyRing.reseal(sealed, tokenAad(credentialId));
  }

  openWebhookSecret(sealed: SealedSecret): string {
    return this.keyRing.open(sealed);
  }

  resealWebhookSecret(sealed: SealedSecret): SealedSecret {
    return this.keyRing.reseal(sealed);
  }
}

const tokenAad = (credentialId: string) => `credential:${credentialId}`;

/** Why a sealed value cannot be opened, without key material or ciphertext. */
export function openFailure(sealed: SealedSecret, keyRing: KeyRing): string {
  return keyRing.hasKey(sealed.keyId)
    ? `it was sealed under key "${sealed.keyId}" but does not open with it (wrong key material or tampered data)`
    : `it was sealed under key "${sealed.keyId}", which is not in ENCRYPTION_KEYS`;
}
