import { invalidParameter, type DomainError } from "@procode/service-kit";

/**
 * PostgreSQL cannot store NUL in text or jsonb, and the ORM sends values inline: a NUL anywhere in
 * a body or a query would fail deep in the database. It is refused up front as the 1001 of the field
 * that holds it.
 */
export function findNulCharacter(value: unknown, path: string[] = []): DomainError | null {
  const field = () => path.join(".") || "body";
  if (typeof value === "string") {
    return value.includes("\u0000") ? invalidParameter(field(), "must not contain NUL characters") : null;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findNulCharacter(item, [...path, String(i)]);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes("\u0000")) return invalidParameter(field(), "keys must not contain NUL characters");
      const found = findNulCharacter(item, [...path, key]);
      if (found) return found;
    }
  }
  return null;
}
