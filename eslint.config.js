// @ts-check
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/coverage/**",
      ".reports/**",
      ".local/**",
      "**/*.mjs",
      "**/*.cjs",
      // Type-checked by the contract test against types generated from the live API document.
      "tools/e2e/contract/**",
      // Programs dev-svc ships and installs are linted (and type-checked: tsconfig.all.json).
      "!services/dev-svc/programs/*.cjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // One TypeScript program for the whole repository: much faster than one per package.
      parserOptions: { project: ["./tsconfig.all.json"], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A missed await on ack, flush or publish is a bug.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    // Domain code is pure: no I/O libraries, no node builtins.
    files: ["services/*/src/domain/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*", "fs", "net", "http", "https", "child_process"], message: "domain/ is pure" },
            {
              group: ["@mikro-orm/*", "@nats-io/*", "fastify", "fastify-*", "@fastify/*", "pg"],
              message: "domain/ is pure",
            },
          ],
          // The kit's pure subpaths (`@procode/service-kit/backoff`) are allowed; its index is not.
          paths: [{ name: "@procode/service-kit", message: "domain/ is pure" }],
        },
      ],
    },
  },
  {
    // The web console is a browser program with its own TypeScript settings (DOM, JSX).
    files: ["tools/console/**/*.{ts,tsx}"],
    languageOptions: {
      parserOptions: { project: ["./tools/console/tsconfig.json"], tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "react-hooks": reactHooks },
    rules: reactHooks.configs.recommended.rules,
  },
  {
    files: ["**/*.js"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The LOCAL provider's post-receive delivery: plain Node.js (CommonJS) run inside a repository.
    files: ["services/dev-svc/programs/*.cjs"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { require: "readonly", process: "readonly", Buffer: "readonly", URL: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
