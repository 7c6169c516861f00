#!/usr/bin/env node
// Runs the CLI from source inside the workspace; `pnpm --filter @procode/cli build` makes a
// self-contained dist/procode.js for use elsewhere.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
