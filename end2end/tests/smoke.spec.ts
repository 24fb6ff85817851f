import { test, expect, type APIRequestContext, type Page } from "@playwright/test";

const PASSWORD = "correct horse battery";

/** Creates an account with two platforms and a draft on each, through the HTTP API. */
async function seedAccount(request: APIRequestContext, email: string) {
  const csrf = async () => (await (await request.get("/api/csrf")).json()).csrf_token as string;
  const post = async (path: string, form: Record<string, string>, token: string) => {
    const res = await request.post(path, { form, headers: { "X-CSRF-Token": token } });
    expect(res.status(), `${path}: ${await res.text()}`).toBe(200);
    return res.json();
  };
  const state = await post("/api/register", { email, password: PASSWORD, display_name: "Smoke Tester" }, await csrf());
  const token = state.csrf_token as string;
  const mastodon = await post("/api/add_platform", { kind: "mastodon", label: "Mastodon main", instance_url: "https://mastodon.social", handle: "@smoke" }, token);
  await post("/api/add_draft", { title: "Toot about sessions", body: "on mastodon" }, token);
  const pixelfed = await post("/api/add_platform", { kind: "pixelfed", label: "Pixelfed photos", instance_url: "https://pixelfed.social", handle: "@smoke.pics" }, token);
  await post("/api/switch_platform", { platform_id: String(pixelfed.id) }, token);
  await post("/api/add_draft", { title: "Photo of the bay", body: "on pixelfed" }, token);
  await post("/api/switch_platform", { platform_id: String(mastodon.id) }, token);
  await post("/api/logout", {}, token);
}

function collectConsoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  return errors;
}

async function signInSwitchSignOut(page: Page, email: string) {
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
  await switcher.selectOption({ label: "Pixelfed photos" });
  await page.getByRole("button", { name: "Switch" }).click();

  await expect(page.getByRole("heading", { name: "Pixelfed photos" })).toBeVisible();
  await expect(drafts.getByText("Photo of the bay")).toBeVisible();
  await expect(drafts.getByText("Toot about sessions")).toHaveCount(0);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

  // Signed out for real: the API says so too.
  const state = await page.request.get("/api/session_state");
  expect(state.status()).toBe(401);
}

test("sign in, see the dashboard, switch platform, see its drafts, sign out", async ({ page, playwright, baseURL }) => {
  const email = `smoke-${Date.now()}@example.org`;
  const api = await playwright.request.newContext({ baseURL });
  await seedAccount(api, email);
  await api.dispose();

  const errors = collectConsoleErrors(page);
  await signInSwitchSignOut(page, email);
  expect(errors, errors.join("\n")).toEqual([]);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the same flow works as plain forms", async ({ page, playwright, baseURL }) => {
    const email = `nojs-${Date.now()}@example.org`;
    const api = await playwright.request.newContext({ baseURL });
    await seedAccount(api, email);
    await api.dispose();
    await signInSwitchSignOut(page, email);
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
