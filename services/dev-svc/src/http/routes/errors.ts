import { ErrorEnvelope } from "@procode/contracts";

/** Error answers the routes may give, so the OpenAPI document shows the envelope for them. */
export const errorResponses = {
  400: ErrorEnvelope,
  401: ErrorEnvelope,
  404: ErrorEnvelope,
  409: ErrorEnvelope,
  500: ErrorEnvelope,
  502: ErrorEnvelope,
  503: ErrorEnvelope,
} as const;
