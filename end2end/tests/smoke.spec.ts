import { test, expect, type Page } from "@playwright/test";
import { PASSWORD, seedAccount, uniqueEmail, waitSynced } from "./support";

/** The most the hydrate WASM may weigh, unpacked (see the smoke test's last lines). */
const WASM_CEILING = 470_000;

async function signInSwitchSignOut(page: Page, email: string, javascript: boolean) {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();

  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  const drafts = page.getByRole("list", { name: "Drafts" });
  await expect(page.getByRole("heading", { name: "Mastodon main" })).toBeVisible();
  await expect(drafts.getByText("Toot about sessions")).toBeVisible();
  await expect(drafts.getByText("Photo of the bay")).toHaveCount(0);

  const switcher = page.getByRole("combobox", { name: "Active platform" });
  await expect(switcher).toHaveValue(/\d+/);
  if (javascript) {
    // Hydrated, the switcher switches on change and the plain-form button is gone.
    await waitSynced(page);
    await expect(page.getByRole("button", { name: "Switch" })).toBeHidden();
    await switcher.selectOption({ label: "Pixelfed photos" });
  } else {
    await switcher.selectOption({ label: "Pixelfed photos" });
    await page.getByRole("button", { name: "Switch" }).click();
  }

  await expect(page.getByRole("heading", { name: "Pixelfed photos" })).toBeVisible();
  await expect(drafts.getByText("Photo of the bay")).toBeVisible();
  await expect(drafts.getByText("Toot about sessions")).toHaveCount(0);

  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(/\/login\?reason=logged_out$/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expect(page.getByText("You signed out.")).toBeVisible();

  // Signed out for real: the API says so too.
  const state = await page.request.get("/api/session_state");
  expect(state.status()).toBe(401);
}

test("sign in, see the dashboard, switch platform, see its drafts, sign out", async ({ page, playwright, baseURL }) => {
  const email = uniqueEmail("smoke");
  const api = await playwright.request.newContext({ baseURL });
  await seedAccount(api, email);
  await api.dispose();

  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" || (msg.type() === "warning" && /hydrat/i.test(msg.text()))) errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  // The browser build comes under its content-hashed name, brotli-compressed, cached as immutable.
  const wasm = page.waitForResponse((res) => res.url().endsWith(".wasm"));
  await signInSwitchSignOut(page, email, true);
  expect(errors, errors.join("\n")).toEqual([]);
  const build = await wasm;
  expect(build.url()).toMatch(/\/pkg\/switchboard-[0-9a-f]{16}\.wasm$/);
  const headers = await build.allHeaders();
  expect(headers["content-encoding"]).toBe("br");
  expect(headers["cache-control"]).toBe("public, max-age=31536000, immutable");
  // The page that loaded it is gone (signing in and out load new pages), so fetch it again.
  const unpacked = (await (await page.request.get(build.url())).body()).length;
  console.log(`[figures] hydrate WASM over the wire: ${headers["content-length"]} bytes (brotli), ${unpacked} unpacked, as ${build.url().split("/").pop()}`);
  // It must shrink, not grow: the ceiling sits just above the latest size (712,535 bytes as
  // islands, 644,880 after the serde cuts, 587,722 with typed views, 462,033 with fixed island
  // markup and one small server-function client; issue 10's goal is 500,000). Lower it with
  // each cut.
  expect(unpacked).toBeLessThanOrEqual(WASM_CEILING);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the same flow works as plain forms", async ({ page, playwright, baseURL }) => {
    const email = uniqueEmail("nojs");
    const api = await playwright.request.newContext({ baseURL });
    await seedAccount(api, email);
    await api.dispose();
    await signInSwitchSignOut(page, email, false);
  });

  test("a failed sign-in shows the error on the form", async ({ page }) => {
    await page.goto("/login");
    await page.getByLabel("Email").fill("nobody@example.org");
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toHaveText("the email or password is not correct");
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  });
});
