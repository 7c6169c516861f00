import { z } from "zod";

/**
 * Every REST response: `{ code, message, data }`; code 0 is success. Success answers are
 * documented inline around their data's named schema.
 */
export function Envelope<T extends z.ZodType>(data: T) {
  return z.object({
    code: z.literal(0).meta({ description: "0: success" }),
    message: z.string().meta({ description: "`success`, or what happened (e.g. a release recorded)" }),
    data,
  });
}
export type Envelope<T> = { code: number; message: string; data: T };

/** An error response: non-zero code, a message naming the problem, data null or details. */
export const ErrorEnvelope = z
  .object({
    code: z.number().int().min(1).meta({ description: "The error code (docs/errors.md)" }),
    message: z.string().meta({ description: "What is wrong, naming the field for 1001" }),
    data: z
      .record(z.string(), z.unknown())
      .nullable()
      .meta({ description: "null, or details such as `{ fields: [{ field, message }] }` for 1001" }),
  })
  .meta({
    id: "ErrorEnvelope",
    description: "Every error answer: a non-zero code with the HTTP status it belongs to.",
    examples: [
      {
        code: 1001,
        message: "name: must be 1-100 characters",
        data: { fields: [{ field: "name", message: "must be 1-100 characters" }] },
      },
    ],
  });
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

/** A success answer (code 0). */
export type Success<T> = { code: 0; message: string; data: T };

export function ok<T>(data: T, message = "success"): Success<T> {
  return { code: 0, message, data };
}

/** The largest page a list answers. */
export const MAX_PAGE_SIZE = 100;

/** Paging query (1-based page). */
export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).default(1).meta({ description: "Page number, from 1" }),
  pageSize: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(20)
    .meta({ description: `Items per page, 1-${MAX_PAGE_SIZE}` }),
});
export type PageQuery = z.infer<typeof PageQuery>;

type Page_<T extends z.ZodType> = z.ZodObject<{
  items: z.ZodArray<T>;
  total: z.ZodNumber;
  page: z.ZodNumber;
  pageSize: z.ZodNumber;
}>;
const pages = new WeakMap<z.ZodType, z.ZodType>();

/**
 * A page of items: `{ items, total, page, pageSize }`. Named `<Item>Page` in the OpenAPI document
 * when the item schema is named; one schema per item type (so the name is registered once).
 */
export function Page<T extends z.ZodType>(item: T): Page_<T> {
  const known = pages.get(item);
  if (known) return known as Page_<T>;
  const page = z.object({
    items: z.array(item),
    total: z.number().int().meta({ description: "Items matching the query, all pages together" }),
    page: z.number().int(),
    pageSize: z.number().int(),
  });
  const id = z.globalRegistry.get(item)?.id;
  const named = id ? page.meta({ id: `${id}Page`, description: `A page of ${id} items` }) : page;
  pages.set(item, named);
  return named;
}
export type Page<T> = { items: T[]; total: number; page: number; pageSize: number };

/** A numeric id in a path (`/apps/{id}`); `what` says whose id it is in the document. */
export function idParam(what: string) {
  return z.object({
    id: z.coerce
      .number()
      .int()
      .positive()
      .max(Number.MAX_SAFE_INTEGER)
      .meta({ description: `The ${what}'s id` }),
  });
}
export const IdParam = idParam("resource");
export type IdParam = z.infer<typeof IdParam>;
export const AppIdParam = idParam("app");
export const IterationIdParam = idParam("iteration");
export const PipelineIdParam = idParam("pipeline");

/** An ISO-8601 timestamp with a time zone, as sent on the wire (`format: date-time`). */
export const DateTime = z.iso.datetime({ offset: true });
