// Rewrites the generated docs (docs/messages.md, docs/errors.md) from the contracts.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { renderErrorsDoc, renderMessagesDoc } from "@procode/contracts";

const docs = path.resolve(import.meta.dirname, "..", "docs");
writeFileSync(path.join(docs, "messages.md"), renderMessagesDoc());
writeFileSync(path.join(docs, "errors.md"), renderErrorsDoc());
