import { test, expect, type BrowserContext, type Page, type Route } from "@playwright/test";
import {
  DRAFT_OF,
  SHORT_URL,
  collectConsoleErrors,
  expectCommitted,
  expectOnlyAllowlistedStorage,
  figure,
  indicator,
  leaderFirst,
  localStorageOf,
  openTabs,
  seedAccount,
  signIn,
  uniqueEmail,
  waitSynced,
  PASSWORD,
  type Account,
} from "./support";

// Every tab of one browser (one context) in step: cross-tab sync, optimistic switching, the
// leader's checks, expiry, offline, and the storage fallback.

const switcher = (page: Page) => page.getByRole("combobox", { name: "Active platform" });
const platformHeading = (page: Page) => page.getByRole("region", { name: "Platform details" }).getByRole("heading");
const toasts = (page: Page) => page.locator(".toast");
/** The leader's checks, with or without the sync figures it adds now and then (a query string). */
const SESSION_CHECK = /\/api\/session_check(\?.*)?$/;

async function setUp(context: BrowserContext, prefix: string, platforms = 3): Promise<Account> {
  const account = await seedAccount(context.request, uniqueEmail(prefix), platforms);
  await signIn(context, account.email);
  return account;
}

/** Counts the background checks (`GET /api/session_check`) each tab makes. */
function countChecks(context: BrowserContext) {
  const byPage = new Map<Page, number>();
  let total = 0;
  context.on("request", (req) => {
    if (!req.url().includes("/api/session_check")) return;
    total += 1;
    const page = req.frame().page();
    byPage.set(page, (byPage.get(page) ?? 0) + 1);
  });
  return { total: () => total, of: (page: Page) => byPage.get(page) ?? 0 };
}

/** The CSRF token a tab holds (for changing the session behind the tabs' backs). */
async function csrfOf(page: Page): Promise<string> {
  return (await page.locator('meta[name="csrf-token"]').getAttribute("content"))!;
}

test.describe("cross-tab sync", () => {
  test("a switch in one tab shows in the others without reload; figures for 24 switches", async ({ context }) => {
    const errors = collectConsoleErrors(context);
    const account = await setUp(context, "switch");
    const [a, b, c] = account.platforms;
    const tabs = await openTabs(context, ["/", "/", "/platforms"]);
    const [one, two, three] = tabs;
    for (const page of tabs) await page.evaluate(() => ((window as any).__sameDocument = true));

    await switcher(one).selectOption(String(b.id));
    await expectCommitted(tabs, b);
    for (const page of [one, two]) {
      await expect(platformHeading(page)).toHaveText(b.label);
      await expect(page.getByRole("list", { name: "Drafts" }).getByText(DRAFT_OF[b.label])).toBeVisible();
      await expect(page.getByRole("list", { name: "Drafts" }).getByText(DRAFT_OF[a.label])).toHaveCount(0);
    }
    await expect(three.locator(".platform.active strong")).toHaveText(b.label);
    for (const page of tabs) {
      expect(await page.evaluate(() => (window as any).__sameDocument), "no reload").toBe(true);
    }

    // Figures: the time from the change event to the pending mark in the same tab, and from the
    // commit in that tab to the commit in each other tab.
    for (const page of tabs) {
      await page.evaluate(() => {
        const w = window as any;
        const now = () => performance.timeOrigin + performance.now();
        w.__marks = [];
        window.addEventListener("change", () => w.__marks.push({ kind: "change", t: now() }), true);
        // When the server's answer to a switch arrives (the start of the commit).
        const fetch = window.fetch;
        window.fetch = async (...args: Parameters<typeof window.fetch>) => {
          const res = await fetch(...args);
          const url = args[0] instanceof Request ? args[0].url : String(args[0]);
          if (url.includes("/api/switch_platform")) w.__marks.push({ kind: "answer", t: now() });
          return res;
        };
        const el = document.querySelector(".session-indicator") as HTMLElement;
        new MutationObserver(() =>
          w.__marks.push({ kind: "dom", t: now(), pending: el.dataset.pending, committed: el.dataset.committedId }),
        ).observe(el, { attributes: true });
      });
    }
    const clickToUi: number[] = [];
    const propagation: number[] = [];
    const answerToOthers: number[] = [];
    const targets = [a, c, b];
    for (let i = 0; i < 24; i++) {
      const target = targets[i % targets.length];
      for (const page of tabs) await page.evaluate(() => ((window as any).__marks = []));
      await switcher(one).selectOption(String(target.id));
      // Wait without polling first: Playwright's polling runs in the tabs' renderers and would
      // compete with them for this machine's two cores while they propagate the switch.
      await one.waitForTimeout(500);
      await expectCommitted(tabs, target);
      // Let each tab finish loading the platform's content before the next switch (a person
      // does not switch several times a second; this keeps one switch's rendering out of the
      // next one's figures).
      for (const page of [one, two]) {
        await expect(page.getByRole("list", { name: "Drafts" }).getByText(DRAFT_OF[target.label])).toBeVisible();
      }
      await expect(three.locator(".platform.active strong")).toHaveText(target.label);
      const marks = await one.evaluate(() => (window as any).__marks);
      const change = marks.find((m: any) => m.kind === "change").t;
      const shown = marks.find((m: any) => m.kind === "dom" && m.pending === "true").t;
      const committed = marks.find((m: any) => m.kind === "dom" && m.pending === "false" && m.committed === String(target.id)).t;
      expect(shown, "the pending choice shows before the server confirms").toBeLessThan(committed);
      clickToUi.push(shown - change);
      const answer = marks.find((m: any) => m.kind === "answer").t;
      for (const other of [two, three]) {
        const otherMarks = await other.evaluate(() => (window as any).__marks);
        const seen = otherMarks.find((m: any) => m.kind === "dom" && m.committed === String(target.id)).t;
        propagation.push(seen - committed);
        answerToOthers.push(seen - answer);
      }
    }
    figure("click-to-UI (change event to pending mark, same tab)", clickToUi);
    figure("cross-tab propagation (commit shown in one tab to commit shown in another)", propagation);
    figure("server answer in the switching tab to commit shown in another tab", answerToOthers);

    for (const page of tabs) await expectOnlyAllowlistedStorage(page, [account.email, await csrfOf(page)]);
    expect(errors, errors.join("\n")).toEqual([]);
  });

  test("logout in one tab sends every tab to login; login in one tab brings the others along", async ({ context }) => {
    // The leader's push stream ends when a sign-in rotates the session, and the browser may open
    // it again before the new cookie has arrived: that request is refused (401) and logged.
    const errors = collectConsoleErrors(context, [/status of 401/]);
    const account = await setUp(context, "logout");
    const tabs = await openTabs(context, ["/", "/platforms", "/session"]);
    const [one, two, three] = tabs;
    expect(Object.keys(await localStorageOf(one))).toEqual(["switchboard.sync"]);

    await one.getByRole("button", { name: "Sign out", exact: true }).click();
    await expect(one).toHaveURL(/\/login\?reason=logged_out$/);
    await expect(two).toHaveURL(/\/login\?reason=logged_out&next=%2Fplatforms$/);
    await expect(three).toHaveURL(/\/login\?reason=logged_out&next=%2Fsession$/);
    for (const page of tabs) {
      await expect(page.getByText("You signed out.")).toBeVisible();
      expect(await localStorageOf(page), "nothing stays in localStorage after logout").toEqual({});
    }

    await two.getByLabel("Email").fill(account.email);
    await two.getByLabel("Password").fill(PASSWORD);
    await two.getByRole("button", { name: "Sign in" }).click();
    await expect(two).toHaveURL(/\/platforms$/);
    await expect(three).toHaveURL(/\/session$/);
    await expect(one).toHaveURL(/\/$/);
    await expect(three.getByRole("region", { name: "Your session" })).toContainText("Signed in as Sync Tester");
    await expect(one.getByRole("heading", { name: "Dashboard" })).toBeVisible();
    for (const page of tabs) await expectOnlyAllowlistedStorage(page, [account.email, await csrfOf(page)]);

    // Signing in as someone else in this browser (a new session, which ends this one) moves every
    // tab to that user: the server pushes the end to the leader, whose check finds the new
    // session, and every tab loads its page again for the new user.
    const other = await seedAccount(context.request, uniqueEmail("other"), 1);
    await signIn(context, other.email);
    for (const page of tabs) await expect(indicator(page)).toHaveAttribute("data-committed-id", String(other.platforms[0].id));
    await waitSynced(one);
    await expect(two.locator(".platform strong")).toHaveText([other.platforms[0].label]);
    expect(errors, errors.join("\n")).toEqual([]);
  });

  test("a new tab starts from the server and brings stale tabs up to date", async ({ context }) => {
    const account = await setUp(context, "newtab");
    const [a, , c] = account.platforms;
    const tabs = await openTabs(context, ["/", "/"]);
    await expectCommitted(tabs, a);
    // Hold the leader's checks, then change the session behind the tabs' backs.
    const held: Route[] = [];
    await context.route(SESSION_CHECK, (route) => void held.push(route));
    const res = await context.request.post("/api/switch_platform", {
      form: { platform_id: String(c.id) },
      headers: { "X-CSRF-Token": await csrfOf(tabs[0]) },
    });
    expect(res.status()).toBe(200);
    const fresh = await context.newPage();
    await fresh.goto("/");
    await expectCommitted([fresh, ...tabs], c);
    await context.unroute(SESSION_CHECK);
    for (const route of held) await route.continue().catch(() => {});
  });

  test("a failed switch (500) reverts every tab, with a notification", async ({ context }) => {
    const errors = collectConsoleErrors(context, [/status of 500/]);
    const account = await setUp(context, "fail500");
    const [a, b] = account.platforms;
    const tabs = await openTabs(context, ["/", "/", "/session"]);
    const [one, two, three] = tabs;
    await one.route("**/api/switch_platform", (route) =>
      route.fulfill({
        status: 500,
        contentType: "application/json",
        body: JSON.stringify({ error: { code: "internal", message: "something went wrong on our side" } }),
      }),
    );
    await switcher(one).selectOption(String(b.id));
    await expect(toasts(one).filter({ hasText: `Could not switch to ${b.label}: something went wrong on our side.` })).toBeVisible();
    for (const page of [two, three]) {
      await expect(toasts(page).filter({ hasText: `A switch to ${b.label} in another tab failed` })).toBeVisible();
    }
    await expectCommitted(tabs, a);
    await expect(platformHeading(one)).toHaveText(a.label);
    // Error toasts stay until dismissed.
    await one.waitForTimeout(7_000);
    await expect(toasts(one)).toHaveCount(1);
    await toasts(one).getByRole("button", { name: "Dismiss notification" }).click();
    await expect(toasts(one)).toHaveCount(0);
    expect(errors, errors.join("\n")).toEqual([]);
  });

  test("a conflict (409) from another device reverts every tab to the server's state", async ({ context }) => {
    const errors = collectConsoleErrors(context, [/status of 409/]);
    const account = await setUp(context, "conflict");
    const [, b, c] = account.platforms;
    const tabs = await openTabs(context, ["/", "/", "/platforms"]);
    const [one] = tabs;
    // Another device switches to C; the tabs have not heard of it (their checks are held).
    const held: Route[] = [];
    await context.route(SESSION_CHECK, (route) => void held.push(route));
    const res = await context.request.post("/api/switch_platform", {
      form: { platform_id: String(c.id) },
      headers: { "X-CSRF-Token": await csrfOf(one) },
    });
    expect(res.status()).toBe(200);

    await switcher(one).selectOption(String(b.id));
    await expect(
      toasts(one).filter({ hasText: `Could not switch to ${b.label}: the session changed in another tab or device. It is now on ${c.label}.` }),
    ).toBeVisible();
    await expectCommitted(tabs, c);
    await expect(platformHeading(one)).toHaveText(c.label);
    for (const page of tabs.slice(1)) {
      await expect(toasts(page).filter({ hasText: `A switch to ${b.label} in another tab failed` })).toBeVisible();
    }
    await context.unroute(SESSION_CHECK);
    for (const route of held) await route.continue().catch(() => {});
    expect(errors, errors.join("\n")).toEqual([]);
  });

  test("a request that finds the session ended elsewhere takes every tab to login", async ({ context, playwright, baseURL }) => {
    // The browser logs the refused requests (the draft, and the drafts list reloading after it).
    const errors = collectConsoleErrors(context, [/status of 40[13]/]);
    await setUp(context, "revoked");
    const tabs = await openTabs(context, ["/", "/"]);
    const [leader, follower] = await leaderFirst(tabs);
    // The leader's checks are held, so only the follower's own request can find out.
    const held: Route[] = [];
    await leader.route(SESSION_CHECK, (route) => void held.push(route));
    const checks = countChecks(context);

    // The session ends on the server (another client with the same cookie signs out); the
    // browser still holds the now-dead cookie.
    const elsewhere = await playwright.request.newContext({ baseURL, storageState: await context.storageState() });
    const res = await elsewhere.post("/api/logout", { headers: { "X-CSRF-Token": await csrfOf(follower) } });
    expect(res.status()).toBe(200);
    await elsewhere.dispose();

    await follower.locator("form.draft-form").getByLabel("Title").fill("Written after the session ended");
    await follower.getByRole("button", { name: "Save draft" }).click();
    for (const page of tabs) {
      await expect(page).toHaveURL(/\/login\?reason=session_revoked$/);
      await expect(page.getByText("Your session was ended. Sign in again to continue.")).toBeVisible();
    }
    expect(checks.of(follower), "the tab whose request failed checked").toBeGreaterThan(0);
    await leader.unroute(SESSION_CHECK);
    for (const route of held) await route.continue().catch(() => {});
    expect(errors, errors.join("\n")).toEqual([]);
  });

  test("ten rapid switches collapse into two requests and end with every tab on the last choice", async ({ context }) => {
    const errors = collectConsoleErrors(context);
    const account = await setUp(context, "rapid");
    const [a, b, c] = account.platforms;
    const tabs = await openTabs(context, ["/", "/", "/"]);
    const [one] = tabs;
    let requests = 0;
    one.on("request", (req) => {
      if (req.url().includes("/api/switch_platform")) requests += 1;
    });
    const choices = [b, c, a, b, c, a, c, b, a, c].map((p) => String(p.id));
    await one.evaluate((ids) => {
      const select = document.getElementById("active-platform") as HTMLSelectElement;
      for (const id of ids) {
        select.value = id;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }, choices);
    await expectCommitted(tabs, c);
    expect(requests, "one in flight, then one for the last choice").toBe(2);
    const server = await (await context.request.get("/api/session_state")).json();
    expect(server.platform.id).toBe(c.id);

    // And ten real selections, as fast as Playwright makes them.
    for (const id of choices.slice().reverse()) await switcher(one).selectOption(id);
    await expectCommitted(tabs, b);
    expect((await (await context.request.get("/api/session_state")).json()).platform.id).toBe(b.id);
    expect(errors, errors.join("\n")).toEqual([]);
  });

  test("offline shows a banner, pauses switching, and the leader re-checks on reconnection", async ({ context }) => {
    const account = await setUp(context, "offline");
    const tabs = await openTabs(context, ["/", "/"]);
    const checks = countChecks(context);
    await context.setOffline(true);
    for (const page of tabs) {
      await expect(page.locator(".offline-banner")).toHaveText(/You are offline/);
      await expect(page.locator(".offline-banner")).toBeVisible();
      await expect(switcher(page)).toBeDisabled();
    }
    const before = checks.total();
    await context.setOffline(false);
    for (const page of tabs) {
      // The banner is a live region that stays in the page, empty and hidden.
      await expect(page.locator(".offline-banner")).toBeHidden();
      await expect(page.locator(".offline-banner")).toHaveText("");
      await expect(switcher(page)).toBeEnabled();
    }
    await expect.poll(() => checks.total(), { message: "a check after reconnecting" }).toBeGreaterThan(before);
    await switcher(tabs[0]).selectOption(String(account.platforms[1].id));
    await expectCommitted(tabs, account.platforms[1]);
  });

  test("closing the leader tab hands the checks to another; a stalled leader shows as not answering", async ({ context }) => {
    test.setTimeout(60_000);
    await setUp(context, "leader");
    const tabs = await openTabs(context, ["/", "/", "/"]);
    const checks = countChecks(context);
    const leaders = async () => {
      const out: Page[] = [];
      for (const page of tabs.filter((p) => !p.isClosed())) {
        if ((await indicator(page).getAttribute("data-sync")) === "leader") out.push(page);
      }
      return out;
    };
    await expect.poll(async () => (await leaders()).length).toBe(1);
    const [leader] = await leaders();

    // A leader that stops answering (its event loop blocked for 10 s; followers ping every 4 s
    // and wait 2.5 s for the answer): the others say so, then recover when it answers again.
    const followers = tabs.filter((p) => p !== leader);
    const stall = leader.evaluate(() => {
      const end = Date.now() + 10_000;
      while (Date.now() < end) {
        /* busy */
      }
    });
    for (const page of followers) await expect(indicator(page)).toHaveAttribute("data-sync", "leader_lost", { timeout: 10_000 });
    await expect(followers[0].locator(".indicator-sync")).toHaveText("Not in sync: other tabs are not answering");
    await stall;
    for (const page of followers) await expect(indicator(page)).toHaveAttribute("data-sync", "follower", { timeout: 10_000 });

    await leader.close();
    const start = Date.now();
    await expect.poll(async () => (await leaders()).length, { timeout: 5_000 }).toBe(1);
    const [next] = await leaders();
    const takeover = Date.now() - start;
    await expect.poll(() => checks.of(next), { message: "the new leader checks" }).toBeGreaterThan(0);
    console.log(`[figures] leader takeover after closing the leader tab: ${takeover} ms`);
  });

  test("five tabs make about one server check per interval, not five", async ({ context }) => {
    test.setTimeout(90_000);
    await setUp(context, "five");
    const tabs = await openTabs(context, ["/", "/", "/", "/", "/"]);
    const interval = (await (await context.request.get("/api/session")).json()).client.check_interval_ms as number;
    const checks = countChecks(context);
    const windowMs = 30_000;
    await tabs[0].waitForTimeout(windowMs);
    const perMinute = (checks.total() * 60_000) / windowMs;
    const perInterval = (checks.total() * interval) / windowMs;
    console.log(
      `[figures] server checks with 5 tabs: ${checks.total()} in ${windowMs / 1000} s = ${perMinute.toFixed(1)}/min, ` +
        `${perInterval.toFixed(2)} per ${interval / 1000} s interval (one per interval is ${(60_000 / interval).toFixed(1)}/min)`,
    );
    expect(perInterval, "about one check per interval for the whole browser").toBeLessThanOrEqual(1.5);
    const checkingTabs = tabs.filter((p) => checks.of(p) > 0);
    expect(checkingTabs.length, "one tab does the checks").toBe(1);
  });

  test("a tab whose channel fails says it is not in sync, and still checks for itself", async ({ context }) => {
    await setUp(context, "broken");
    const [healthy] = await openTabs(context, ["/"]);
    const broken = await context.newPage();
    await broken.addInitScript(() => {
      BroadcastChannel.prototype.postMessage = () => {
        throw new DOMException("the channel is closed", "InvalidStateError");
      };
    });
    const checks = countChecks(context);
    await broken.goto("/");
    await expect(indicator(broken)).toHaveAttribute("data-sync", "alone");
    await expect(broken.locator(".indicator-sync")).toHaveText("Not in sync: this tab cannot reach the others");
    await expect.poll(() => checks.of(broken), { message: "it checks the session on its own" }).toBeGreaterThan(0);
    await expect(indicator(healthy)).toHaveAttribute("data-sync", /^(leader|follower)$/);
  });

  test("without BroadcastChannel, tabs follow each other through localStorage", async ({ context }) => {
    await context.addInitScript(() => {
      delete (window as any).BroadcastChannel;
    });
    const errors = collectConsoleErrors(context);
    const account = await setUp(context, "storage");
    const [, b] = account.platforms;
    const tabs = await openTabs(context, ["/", "/", "/platforms"]);
    for (const page of tabs) await expect(indicator(page)).toHaveAttribute("data-sync", "storage");
    await switcher(tabs[0]).selectOption(String(b.id));
    await expectCommitted(tabs, b);
    await expect(platformHeading(tabs[1])).toHaveText(b.label);
    for (const page of tabs) await expectOnlyAllowlistedStorage(page, [account.email, await csrfOf(page)]);
    await tabs[1].getByRole("button", { name: "Sign out", exact: true }).click();
    for (const page of tabs) {
      await expect(page).toHaveURL(/\/login\?reason=logged_out/);
      expect(await localStorageOf(page)).toEqual({});
    }
    expect(errors, errors.join("\n")).toEqual([]);
  });
});

test.describe("idle timeout (server with 12 s idle sessions, warning 8 s before)", () => {
  test.use({ baseURL: SHORT_URL });

  test("the warning shows in every tab; extending or dismissing in one does it in all; expiry reaches every tab", async ({ context }) => {
    test.setTimeout(90_000);
    const errors = collectConsoleErrors(context);
    await setUp(context, "idle", 2);
    const tabs = await openTabs(context, ["/", "/platforms", "/session"]);
    const warning = (page: Page) => page.getByRole("alertdialog");

    for (const page of tabs) await expect(warning(page)).toBeVisible({ timeout: 10_000 });
    await expect(warning(tabs[0])).toContainText(/Your session will end in 0:0\d because of inactivity/);
    await warning(tabs[0]).getByRole("button", { name: "Stay signed in" }).click();
    for (const page of tabs) await expect(warning(page)).toBeHidden();

    for (const page of tabs) await expect(warning(page)).toBeVisible({ timeout: 10_000 });
    await warning(tabs[1]).getByRole("button", { name: "Dismiss" }).click();
    for (const page of tabs) await expect(warning(page)).toBeHidden();

    // No activity: the server ends the session and every tab goes to login, keeping its page.
    await expect(tabs[0]).toHaveURL(/\/login\?reason=session_expired$/, { timeout: 20_000 });
    await expect(tabs[1]).toHaveURL(/\/login\?reason=session_expired&next=%2Fplatforms$/, { timeout: 5_000 });
    await expect(tabs[2]).toHaveURL(/\/login\?reason=session_expired&next=%2Fsession$/, { timeout: 5_000 });
    for (const page of tabs) {
      await expect(page.getByText("Your session expired after a period of inactivity.")).toBeVisible();
      expect(await localStorageOf(page)).toEqual({});
    }
    expect(errors, errors.join("\n")).toEqual([]);
  });
});

test("a page rendered on the server follows a switch in another tab without reload, keeping its islands", async ({ context }) => {
  const errors = collectConsoleErrors(context);
  const account = await setUp(context, "refresh");
  const [a, b] = account.platforms;
  const [one, sessions] = await openTabs(context, ["/", "/sessions"]);
  await sessions.evaluate(() => ((window as any).__sameDocument = true));
  let counts = 0;
  sessions.on("request", (req) => {
    if (req.url().includes("/api/session_count")) counts += 1;
  });
  const devices = sessions.locator("p.devices");
  await expect(devices).toHaveText("Signed in on 1 device.");
  const current = sessions.locator("li.session.current .meta");
  await expect(current).toContainText(a.label);
  const before = counts;

  await switcher(one).selectOption(String(b.id));
  await expectCommitted([one, sessions], b);
  // The list is the server's HTML, loaded again for the new platform and put in place.
  await expect(current).toContainText(b.label);
  expect(await sessions.evaluate(() => (window as any).__sameDocument), "no reload").toBe(true);
  // The "signed in on N devices" island was kept, not hydrated a second time beside itself: one
  // paragraph, and one count request for the change (a second island would make two).
  await expect.poll(() => counts).toBe(before + 1);
  await sessions.waitForTimeout(300);
  expect(counts).toBe(before + 1);
  await expect(devices).toHaveCount(1);
  expect(errors, errors.join("\n")).toEqual([]);
});

test("the session page works through the public API (use_session example)", async ({ context }) => {
  const account = await setUp(context, "example");
  const [, b] = account.platforms;
  const [page, other] = await openTabs(context, ["/session", "/"]);
  const card = page.getByRole("region", { name: "Your session" });
  await expect(card).toContainText(`Posting to ${account.platforms[0].label}`);
  await card.getByRole("group", { name: "Quick switch" }).getByRole("button", { name: b.label }).click();
  await expect(card).toContainText(`Posting to ${b.label}`);
  await expectCommitted([page, other], b);
  await waitSynced(other);
});

test("platforms added and removed in one tab show in another tab's switcher and quick switch, without reload", async ({ context }) => {
  const errors = collectConsoleErrors(context);
  const account = await setUp(context, "platform-list", 1);
  const [first] = account.platforms;
  const [manage, card] = await openTabs(context, ["/platforms", "/session"]);
  await card.evaluate(() => ((window as any).__sameDocument = true));
  const options = switcher(card).locator("option");
  const quick = card.getByRole("group", { name: "Quick switch" }).getByRole("button");
  const addLink = card.locator(".nav").getByRole("link", { name: "Add a platform" });
  await expect(options).toHaveText([first.label]);
  await expect(quick).toHaveText([first.label]);
  await expect(addLink).toBeHidden();

  // Added in one tab (a plain form post): the other tab's switcher and buttons gain it.
  const form = manage.locator("form.platform-form");
  await form.getByLabel("Label").fill("Pixelfed later");
  await form.getByLabel("Instance URL").fill("https://pixelfed.example");
  await form.getByLabel("Handle").fill("@later");
  await form.getByRole("button", { name: "Add platform" }).click();
  await expect(options).toHaveText([first.label, "Pixelfed later"]);
  await expect(quick).toHaveText([first.label, "Pixelfed later"]);
  await expect(switcher(card)).toHaveValue(String(first.id));

  // The new one can be switched to from the new option, and every tab follows.
  const added = await options.nth(1).getAttribute("value");
  await switcher(card).selectOption(added!);
  await expectCommitted([manage, card], { id: Number(added), label: "Pixelfed later" });

  // Removed: the first goes from the list; then the last, and the switcher gives way to a link.
  const remove = async (label: string) => {
    await manage.locator("li.platform", { hasText: label }).getByText("Remove…").click();
    await manage.getByRole("button", { name: `Remove ${label}` }).click();
  };
  await remove(first.label);
  await expect(options).toHaveText(["Pixelfed later"]);
  await expect(switcher(card)).toHaveValue(added!);
  await remove("Pixelfed later");
  await expect(addLink).toBeVisible();
  await expect(switcher(card)).toBeHidden();
  await expect(quick).toHaveCount(0);
  expect(await card.evaluate(() => (window as any).__sameDocument), "no reload").toBe(true);
  expect(errors, errors.join("\n")).toEqual([]);
});
