import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The console is served by the gateway at `/`: every asset under /assets/ with a content hash in
 * its name (cached for good), index.html for each page (never cached). `npm run dev` proxies the
 * API to a running gateway (PROCODE_URL, default the local one).
 */
const gateway = process.env["PROCODE_URL"] ?? "http://127.0.0.1:8080";
const apiPaths = ["/apps", "/iterations", "/pipelines", "/credentials", "/events", "/openapi.json"];

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: true, target: "es2022" },
  server: {
    proxy: Object.fromEntries(
      apiPaths.map((p) => [
        p,
        {
          target: gateway,
          // Page loads stay with the dev server; API calls go to the gateway.
          bypass: (req: { headers: { accept?: string } }) =>
            req.headers.accept?.includes("text/html") ? "/index.html" : undefined,
        },
      ]),
    ),
  },
});
