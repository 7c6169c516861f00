import { z } from "zod";
import { BaseConfig, requireAuthConfig } from "@procode/service-kit";

/** dev-svc's environment (parsed once, in main.ts). */
export const Config = BaseConfig.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(8082),
}).superRefine(requireAuthConfig);
export type Config = z.infer<typeof Config>;
