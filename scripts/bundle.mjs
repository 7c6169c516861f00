#!/usr/bin/env node
// `build` of a deployable unit: one self-contained ESM file (dist/main.js) with every dependency
// inlined, so a container needs only Node.js and this file (see each service's Dockerfile).
//   node scripts/bundle.mjs <entry.ts> <out.js>
import { build } from "esbuild";

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) {
  console.error("usage: bundle.mjs <entry.ts> <out.js>");
  process.exit(2);
}

// Optional drivers and tools that MikroORM and knex load only when configured for them.
const optional = [
  "pg-native",
  "pg-query-stream",
  "better-sqlite3",
  "sqlite3",
  "libsql",
  "mysql",
  "mysql2",
  "mariadb",
  "oracledb",
  "tedious",
  "@mikro-orm/seeder",
  "@mikro-orm/entity-generator",
  "ts-node",
  "@swc/core",
  "cpu-features",
  "ssh2",
];

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  external: optional,
  // CommonJS dependencies inside an ES module need require/__dirname.
  banner: {
    js: [
      "import { createRequire as __procodeRequire } from 'node:module';",
      "import { fileURLToPath as __procodeFileURLToPath } from 'node:url';",
      "import { dirname as __procodeDirname } from 'node:path';",
      "const require = __procodeRequire(import.meta.url);",
      "const __filename = __procodeFileURLToPath(import.meta.url);",
      "const __dirname = __procodeDirname(__filename);",
    ].join(" "),
  },
});
