import { expect, type APIRequestContext, type BrowserContext, type Page } from "@playwright/test";

export const PASSWORD = "correct horse battery";

/**
 * The test servers (scripts/test.sh): the main one, one whose sessions go idle after 12 s, and
 * one with tab sync switched off.
 */
export const MAIN_URL = process.env.SWITCHBOARD_E2E_URL ?? "http://127.0.0.1:3100";
export const SHORT_URL = process.env.SWITCHBOARD_E2E_SHORT_URL ?? "http://127.0.0.1:3101";
export const NO_SYNC_URL = process.env.SWITCHBOARD_E2E_NO_SYNC_URL ?? "http://127.0.0.1:3102";

/** The administrator scripts/test.sh creates on the main server. */
export const ADMIN_EMAIL = process.env.SWITCHBOARD_E2E_ADMIN_EMAIL ?? "admin@switchboard.test";
export const ADMIN_PASSWORD = process.env.SWITCHBOARD_E2E_ADMIN_PASSWORD ?? "administrator password for the e2e run";

export type Platform = { id: number; label: string };
export type Account = { email: string; platforms: Platform[] };

let counter = 0;
export function uniqueEmail(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now()}-${counter}@example.org`;
}

async function csrf(request: APIRequestContext): Promise<string> {
  return (await (await request.get("/api/csrf")).json()).csrf_token as string;
}

async function post(request: APIRequestContext, path: string, form: Record<string, string>, token: string) {
  const res = await request.post(path, { form, headers: { "X-CSRF-Token": token } });
  expect(res.status(), `${path}: ${await res.text()}`).toBe(200);
  return res.json();
}

const PLATFORMS = [
  { kind: "mastodon", label: "Mastodon main", instance_url: "https://mastodon.social", handle: "@smoke", draft: "Toot about sessions" },
  { kind: "pixelfed", label: "Pixelfed photos", instance_url: "https://pixelfed.social", handle: "@smoke.pics", draft: "Photo of the bay" },
  { kind: "mastodon", label: "Mastodon alt", instance_url: "https://fosstodon.org", handle: "@alt", draft: "Alt account thoughts" },
];

/** The draft each seeded platform has, by label. */
export const DRAFT_OF: Record<string, string> = Object.fromEntries(PLATFORMS.map((p) => [p.label, p.draft]));

/**
 * Creates an account with `count` platforms (one draft each), the first one active, through the
 * HTTP API, and signs out again.
 */
export async function seedAccount(request: APIRequestContext, email: string, count = 2): Promise<Account> {
  const state = await post(request, "/api/register", { email, password: PASSWORD, display_name: "Sync Tester" }, await csrf(request));
  const token = state.csrf_token as string;
  const platforms: Platform[] = [];
  for (const p of PLATFORMS.slice(0, count)) {
    const { draft, ...fields } = p;
    const created = await post(request, "/api/add_platform", fields, token);
    platforms.push({ id: created.id, label: created.label });
    await post(request, "/api/switch_platform", { platform_id: String(created.id) }, token);
    await post(request, "/api/add_draft", { title: draft, body: `on ${p.label}` }, token);
  }
  await post(request, "/api/switch_platform", { platform_id: String(platforms[0].id) }, token);
  await post(request, "/api/logout", {}, token);
  return { email, platforms };
}

/** Signs the whole browser context in (its cookies are shared by every tab). */
export async function signIn(context: BrowserContext, email: string, password = PASSWORD) {
  await post(context.request, "/api/login", { email, password }, await csrf(context.request));
}

/** The session indicator of a tab. */
export const indicator = (page: Page) => page.locator(".session-indicator");

/** Waits until the tab has hydrated and joined the others. */
export async function waitSynced(page: Page) {
  await expect(indicator(page)).toHaveAttribute("data-sync", /^(leader|follower|storage)$/);
}

/** Opens `paths.length` tabs, signed in, each hydrated (with or without tab sync). */
export async function openTabsUnsynced(context: BrowserContext, paths: string[]): Promise<Page[]> {
  const pages: Page[] = [];
  for (const path of paths) {
    const page = await context.newPage();
    await page.goto(path);
    await expect(indicator(page)).not.toHaveAttribute("data-sync", "starting");
    pages.push(page);
  }
  return pages;
}

/** Two open tabs as [leader, follower]: whichever won the election leads, not always the first. */
export async function leaderFirst(tabs: Page[]): Promise<[Page, Page]> {
  const leads = async (page: Page) => (await indicator(page).getAttribute("data-sync")) === "leader";
  await expect.poll(async () => (await leads(tabs[0])) || (await leads(tabs[1]))).toBe(true);
  return (await leads(tabs[0])) ? [tabs[0], tabs[1]] : [tabs[1], tabs[0]];
}

/** Opens `paths.length` tabs, signed in, each hydrated and in sync. */
export async function openTabs(context: BrowserContext, paths: string[]): Promise<Page[]> {
  const pages: Page[] = [];
  for (const path of paths) {
    const page = await context.newPage();
    await page.goto(path);
    pages.push(page);
  }
  for (const page of pages) await waitSynced(page);
  return pages;
}

/** Every tab shows `platform` as the committed active platform, with nothing pending. */
export async function expectCommitted(pages: Page[], platform: Platform) {
  for (const page of pages) {
    await expect(indicator(page)).toHaveAttribute("data-committed-id", String(platform.id));
    await expect(indicator(page)).toHaveAttribute("data-pending", "false");
    await expect(page.getByRole("combobox", { name: "Active platform" })).toHaveValue(String(platform.id));
  }
}

/**
 * Collects console errors and page errors of every tab in `context` (and hydration and island
 * warnings).
 * `allowed` are expected messages, e.g. the browser's "Failed to load resource" line for a 409
 * a test provokes on purpose.
 */
export function collectConsoleErrors(context: BrowserContext, allowed: RegExp[] = []): string[] {
  const errors: string[] = [];
  const keep = (text: string) => !allowed.some((re) => re.test(text));
  context.on("console", (msg) => {
    const text = msg.text();
    // Hydration warnings, and the island script's warning for an island the WASM does not export.
    const hydration = msg.type() === "warning" && /hydrat|Could not find WASM function/i.test(text);
    if ((msg.type() === "error" || hydration) && keep(text)) errors.push(`${msg.type()}: ${text}`);
  });
  context.on("weberror", (err) => errors.push(`pageerror: ${err.error().message}`));
  return errors;
}

/** localStorage of a tab, as key → value. */
export async function localStorageOf(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const out: Record<string, string> = {};
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i)!;
      out[key] = localStorage.getItem(key)!;
    }
    return out;
  });
}

/** Asserts localStorage holds at most the allowlisted record, with only its allowlisted fields. */
export async function expectOnlyAllowlistedStorage(page: Page, secrets: string[]) {
  const stored = await localStorageOf(page);
  expect(Object.keys(stored).every((k) => k === "switchboard.sync"), JSON.stringify(stored)).toBe(true);
  const raw = stored["switchboard.sync"];
  if (raw !== undefined) {
    expect(Object.keys(JSON.parse(raw)).sort()).toEqual(["at", "ev", "pid", "uid", "v"]);
  }
  for (const secret of secrets) {
    expect(JSON.stringify(stored)).not.toContain(secret);
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

/** Prints one figure line the test command's output keeps (and the issue note quotes). */
export function figure(name: string, values: number[], unit = "ms") {
  const fmt = (n: number) => n.toFixed(2);
  console.log(
    `[figures] ${name}: p50=${fmt(percentile(values, 50))}${unit} p95=${fmt(percentile(values, 95))}${unit} max=${fmt(Math.max(...values))}${unit} (n=${values.length})`,
  );
}
