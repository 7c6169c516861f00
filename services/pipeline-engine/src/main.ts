import { runService } from "@procode/service-kit";
import { service } from "./app.js";

// Durable iteration and phase pipelines.
await runService(service);
