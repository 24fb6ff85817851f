import { test, expect, type BrowserContext, type Page } from "@playwright/test";
import { NO_SYNC_URL, collectConsoleErrors, indicator, localStorageOf, openTabsUnsynced, seedAccount, signIn, uniqueEmail } from "./support";

// Features switched off, on a server started with SWITCHBOARD_FEATURE_CROSS_TAB_SYNC=false.
// (Registration switched off is tested over HTTP: server/tests/api/features.rs.)

test.use({ baseURL: NO_SYNC_URL });

/** Counts, in every page of the context, BroadcastChannels opened and localStorage writes. */
async function watchChannelsAndStorage(context: BrowserContext) {
  await context.addInitScript(() => {
    const w = window as unknown as { __channels: number; __localWrites: string[] };
    w.__channels = 0;
    w.__localWrites = [];
    const Original = window.BroadcastChannel;
    window.BroadcastChannel = class extends Original {
      constructor(name: string) {
        super(name);
        w.__channels += 1;
      }
    };
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = function (this: Storage, key: string, value: string) {
      if (this === window.localStorage) w.__localWrites.push(key);
      return setItem.call(this, key, value);
    };
  });
}

async function seen(page: Page) {
  return page.evaluate(() => {
    const w = window as unknown as { __channels: number; __localWrites: string[] };
    return { channels: w.__channels, localWrites: w.__localWrites };
  });
}

test("with cross_tab_sync off, tabs open no BroadcastChannel and write nothing to localStorage", async ({ context }) => {
  const errors = collectConsoleErrors(context);
  await watchChannelsAndStorage(context);
  const account = await seedAccount(context.request, uniqueEmail("nosync"), 2);
  await signIn(context, account.email);
  const tabs = await openTabsUnsynced(context, ["/", "/session"]);
  for (const page of tabs) {
    await expect(indicator(page)).toHaveAttribute("data-sync", "off");
    await expect(indicator(page)).toContainText("Tab sync is off");
  }

  // A switch still works in the tab that makes it, and the other tab learns it from the server
  // on its own (each tab checks for itself), without any channel or storage between them.
  const [a, b] = tabs;
  await a.getByRole("combobox", { name: "Active platform" }).selectOption({ label: account.platforms[1].label });
  await expect(indicator(a)).toHaveAttribute("data-committed-id", String(account.platforms[1].id));
  await b.bringToFront();
  await b.evaluate(() => window.dispatchEvent(new Event("focus")));
  await expect(indicator(b)).toHaveAttribute("data-committed-id", String(account.platforms[1].id), { timeout: 15_000 });

  // Sign out in one tab: nothing is left behind for the others to read.
  await a.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(a).toHaveURL(/\/login\?reason=logged_out$/);
  for (const page of tabs) {
    expect(await seen(page)).toEqual({ channels: 0, localWrites: [] });
    expect(await localStorageOf(page)).toEqual({});
  }
  expect(errors, errors.join("\n")).toEqual([]);
});
