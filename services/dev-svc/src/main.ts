import { runService } from "@procode/service-kit";
import { service } from "./app.js";

// Repositories, credentials, webhooks, iterations and stage runners.
await runService(service);
