import { readFileSync } from "node:fs";
import path from "node:path";
import openapiTS, { astToString } from "openapi-typescript";
import { expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../../..");

/**
 * The clients' types (the CLI's and the web console's) are generated from the committed API document
 * (libs/contracts/openapi.json, which the contract test keeps equal to the live one);
 * `npx vitest run libs/contracts/test/api-types.test.ts --update` regenerates src/api-types.ts after
 * a contract change.
 */
it("src/api-types.ts is what openapi-typescript generates from the committed API document", async () => {
  const doc = JSON.parse(readFileSync(path.join(root, "libs/contracts/openapi.json"), "utf8"));
  const ast = await openapiTS(doc);
  await expect(astToString(ast)).toMatchFileSnapshot(path.join(root, "libs/contracts/src/api-types.ts"));
});
