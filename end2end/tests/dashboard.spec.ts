import { test, expect } from "@playwright/test";
import { ADMIN_EMAIL, ADMIN_PASSWORD, collectConsoleErrors, seedAccount, signIn, uniqueEmail } from "./support";

// The administrators' dashboard: server-rendered figures with a chart each, replaced live by
// every sample the server pushes (a sample a second on the test server), readable on a phone.

const FIGURES = ["Live sessions", "Logins a minute", "Switch latency", "Server errors a minute", "Pool use"];

test("the dashboard's figures update live, without a reload, and fit a phone", async ({ browser }, testInfo) => {
  const admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const errors = collectConsoleErrors(admin);
  await signIn(admin, ADMIN_EMAIL, ADMIN_PASSWORD);
  const page = await admin.newPage();
  await page.goto("/admin/dashboard");
  const live = page.getByRole("region", { name: "Live figures" });
  for (const name of FIGURES) {
    await expect(live.locator("figure figcaption", { hasText: name })).toBeVisible();
    await expect(live.locator("figure", { hasText: name }).locator("svg[role=img]")).toBeVisible();
  }
  // At least this administrator's own session is live.
  const sessions = page.locator("#dashboard-live figure", { hasText: "Live sessions" }).locator(".now");
  await expect.poll(async () => Number(await sessions.textContent()), { timeout: 15_000 }).toBeGreaterThan(0);

  // New samples replace the figures in place: the page is not loaded again.
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  const updated = page.locator("#dashboard-live > p.meta");
  const before = await updated.textContent();
  await expect(page.locator("html")).toHaveAttribute("data-dashboard-live", "on", { timeout: 15_000 });
  await expect(updated).not.toHaveText(before ?? "", { timeout: 15_000 });
  expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  await page.screenshot({ path: testInfo.outputPath("dashboard-desktop.png"), fullPage: true });

  // A phone: one tile to a row, nothing wider than the screen.
  await page.setViewportSize({ width: 360, height: 780 });
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  const tiles = page.locator("#dashboard-live figure.tile");
  const boxes = await tiles.evaluateAll((all) => all.map((t) => t.getBoundingClientRect().toJSON()));
  expect(boxes.length).toBe(FIGURES.length);
  for (const [i, box] of boxes.entries()) {
    expect(box.right, `tile ${i} fits`).toBeLessThanOrEqual(360);
    if (i > 0) expect(box.top, `tile ${i} is below the one before`).toBeGreaterThanOrEqual(boxes[i - 1].bottom);
  }
  await page.screenshot({ path: testInfo.outputPath("dashboard-phone.png"), fullPage: true });
  expect(errors, errors.join("\n")).toEqual([]);
  await admin.close();
});

test("a user who is not an administrator is shown no figures", async ({ browser }) => {
  const someone = await browser.newContext();
  const account = await seedAccount(someone.request, uniqueEmail("not-admin"), 1);
  await signIn(someone, account.email);
  const page = await someone.newPage();
  await page.goto("/admin/dashboard");
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.locator("#dashboard-live")).toHaveCount(0);
  await someone.close();
});
