import { z } from "zod";

/** Every REST response: `{ code, message, data }`; code 0 is success (SPEC 3). */
export function Envelope<T extends z.ZodType>(data: T) {
  return z.object({ code: z.number().int(), message: z.string(), data });
}
export type Envelope<T> = { code: number; message: string; data: T };

/** An error response: non-zero code, a message naming the problem, data null or details. */
export const ErrorEnvelope = z.object({
  code: z.number().int().min(1),
  message: z.string(),
  data: z.unknown().nullable(),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

export function ok<T>(data: T, message = "success"): Envelope<T> {
  return { code: 0, message, data };
}

/** Paging query (1-based page). */
export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});
export type PageQuery = z.infer<typeof PageQuery>;

export function Page<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    total: z.number().int(),
    page: z.number().int(),
    pageSize: z.number().int(),
  });
}
export type Page<T> = { items: T[]; total: number; page: number; pageSize: number };

/** A numeric id in a path (`/apps/{id}`). */
export const IdParam = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
export type IdParam = z.infer<typeof IdParam>;

/** ISO-8601 timestamp as sent on the wire. */
export const Timestamp = z.string();
