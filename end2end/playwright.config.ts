import { defineConfig, devices } from "@playwright/test";

// Switchboard end-to-end tests.
//
// The server is started by scripts/test.sh (release build, SWITCHBOARD_PROFILE=test) before
// Playwright runs; this config does not start it. The browser is Debian's Chromium: Playwright's
// own browser download cannot work on these machines (no internet), so never run
// `npx playwright install`.
const baseURL = process.env.SWITCHBOARD_E2E_URL ?? "http://127.0.0.1:3100";

export default defineConfig({
  testDir: "tests",
  fullyParallel: false,
  forbidOnly: true, // a stray test.only must never pass for a full run, in CI or not
  // In CI (2 cores shared by the server, Chromium and the runner) a failed test runs once more;
  // one that passes only then still fails no run, but scripts/test.sh names it in its summary as
  // flaky, with its first error. Locally every failure counts.
  retries: process.env.CI ? 1 : 0,
  workers: 1, // 2-core machine: the server, Chromium and the runner share it
  reporter: "list",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
});
