import { expect, test } from "@playwright/test";
import { collectConsoleErrors, figure, openTabs, seedAccount, signIn, uniqueEmail } from "./support";

/**
 * Many instances on one PostgreSQL (scripts/test.sh starts two, on their own ports, with the
 * interval check slowed to a minute so only the server's push can explain a quick change).
 */
const A_URL = process.env.SWITCHBOARD_E2E_PG_A_URL;
const B_URL = process.env.SWITCHBOARD_E2E_PG_B_URL;
const REVOKED = /\/login\?reason=session_revoked(&next=.*)?$/;

test.describe("many instances, many devices", () => {
  test.skip(!A_URL || !B_URL, "needs the two PostgreSQL servers scripts/test.sh starts (SWITCHBOARD_E2E_PG_A_URL, SWITCHBOARD_E2E_PG_B_URL)");

  test("a session ended from one device on one instance takes the other device's tabs, on another instance, to login at once", async ({ browser }) => {
    // Two devices: two browser contexts, each served by its own instance.
    const laptop = await browser.newContext({ baseURL: A_URL });
    const phone = await browser.newContext({ baseURL: B_URL });
    const errors = collectConsoleErrors(phone, [/status of 401/]);
    const account = await seedAccount(laptop.request, uniqueEmail("many"), 1);
    await signIn(laptop, account.email);
    await signIn(phone, account.email);

    // The phone's leader tab opens the push stream (served by instance B).
    const streaming = phone.waitForEvent("response", (r) => r.url().endsWith("/api/session_events") && r.status() === 200);
    const tabs = await openTabs(phone, ["/", "/platforms"]);
    await streaming;

    // The laptop, on instance A, signs out every other session of the account.
    const token = (await (await laptop.request.get("/api/session")).json()).csrf_token as string;
    const started = Date.now();
    const res = await laptop.request.post("/api/revoke_other_sessions", { headers: { "X-CSRF-Token": token } });
    expect(res.status(), await res.text()).toBe(200);
    const reached = await Promise.all(
      tabs.map(async (page) => {
        await page.waitForURL(REVOKED, { waitUntil: "commit", timeout: 10_000 });
        return Date.now() - started;
      }),
    );
    figure("revocation on instance A to the login page in the other device's tabs on instance B", reached);
    // The phone's interval check is a minute away: only the push explains this.
    expect(Math.max(...reached)).toBeLessThan(3_000);
    for (const page of tabs) await expect(page.getByText("Your session was ended. Sign in again to continue.")).toBeVisible();
    expect(errors, errors.join("\n")).toEqual([]);
    await laptop.close();
    await phone.close();
  });
});
