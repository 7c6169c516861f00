import createClient, { type Middleware } from "openapi-fetch";
import { readToken } from "../auth/session";
import type { paths } from "@procode/contracts/api-types";

/** An answer of the API that is not success: the envelope's code and message, and the HTTP status. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly code: number,
    message: string,
    readonly status: number,
    readonly data: unknown = null,
  ) {
    super(message);
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
}

/** Called when the API refuses the token (401): the app sends the person to the sign-in page. */
let onUnauthenticated: (message: string) => void = () => {};
export function whenUnauthenticated(handler: (message: string) => void): void {
  onUnauthenticated = handler;
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = readToken();
    if (token) request.headers.set("authorization", `Bearer ${token}`);
    request.headers.set("accept", "application/json");
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(auth);

interface Envelope {
  code: number;
  message: string;
  data: unknown;
}

const isEnvelope = (v: unknown): v is Envelope =>
  typeof v === "object" && v !== null && "code" in v && "message" in v;

/**
 * The data of a call's envelope, or an ApiError with the envelope's code and message. A network
 * failure becomes code 0 "cannot reach the platform".
 */
export async function unwrap<D>(
  call: Promise<{ data?: { data: D }; error?: unknown; response: Response }>,
): Promise<D> {
  let result: Awaited<typeof call>;
  try {
    result = await call;
  } catch (err) {
    throw new ApiError(0, `cannot reach the platform: ${(err as Error).message}`, 0);
  }
  const { data, error, response } = result;
  if (data !== undefined && response.ok) return data.data;
  const body: unknown = error ?? data;
  const envelope = isEnvelope(body)
    ? body
    : { code: 0, message: `HTTP ${response.status} without an envelope`, data: null };
  if (response.status === 401) onUnauthenticated(envelope.message);
  throw new ApiError(envelope.code, envelope.message, response.status, envelope.data);
}
