import { runService } from "@procode/service-kit";
import { service } from "./app.js";

// Deployments through the ops module, by poll and callback.
await runService(service);
