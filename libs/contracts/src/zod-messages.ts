import { z } from "zod";

/**
 * Error messages a caller can act on, for every schema in the product (one zod for the whole
 * repository): a missing field says "is required" instead of zod's "expected string, received
 * undefined". Other issues keep zod's messages; the field name is added by the HTTP error handler.
 */
z.config({
  customError: (issue) => {
    if (issue.code === "invalid_type" && issue.input === undefined) return "is required";
    return undefined;
  },
});
