/**
 * Debian's Chromium as the browser tests and the console bench launch it (Playwright's own browser
 * download cannot work on these machines): headless, no sandbox (root in a container), nothing that
 * reaches out to the network on its own.
 */
export const CHROMIUM_LAUNCH = {
  executablePath: process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};
