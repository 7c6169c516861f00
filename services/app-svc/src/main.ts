import { runService } from "@procode/service-kit";
import { service } from "./app.js";

// Agent apps and their pro-code configuration.
await runService(service);
