// Rewrites docs/messages.md from the message catalog.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { renderMessagesDoc } from "@procode/contracts";

writeFileSync(path.resolve(import.meta.dirname, "..", "docs", "messages.md"), renderMessagesDoc());
