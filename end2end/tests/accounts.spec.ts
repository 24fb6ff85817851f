import { test, expect, type Page } from "@playwright/test";
import { ADMIN_EMAIL, ADMIN_PASSWORD, collectConsoleErrors, openTabs, seedAccount, signIn, uniqueEmail } from "./support";

// Accountable sessions across devices: two browser contexts are two devices. Ending a session
// elsewhere reaches every open tab of that device at its next check (the leader checks every
// 5 s on the test server) or action.

const revokedLogin = /\/login\?reason=session_revoked(&next=.*)?$/;

async function expectSentToLogin(tabs: Page[]) {
  for (const page of tabs) {
    await expect(page).toHaveURL(revokedLogin, { timeout: 20_000 });
    await expect(page.getByText("Your session was ended. Sign in again to continue.")).toBeVisible();
  }
}

test("one device ends another's session from the Sessions page; that device's tabs go to login", async ({ browser }) => {
  const laptop = await browser.newContext();
  const phone = await browser.newContext({ userAgent: "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36" });
  const errors = collectConsoleErrors(phone, [/status of 40[13]/]);
  const account = await seedAccount(laptop.request, uniqueEmail("devices"), 2);
  await signIn(laptop, account.email);
  await signIn(phone, account.email);
  const phoneTabs = await openTabs(phone, ["/", "/platforms"]);

  const page = await laptop.newPage();
  await page.goto("/sessions");
  await expect(page.getByText("Signed in on 2 devices.")).toBeVisible();
  const sessions = page.getByRole("list", { name: "Sessions" });
  await expect(sessions.getByRole("listitem")).toHaveCount(2);
  await expect(sessions.locator("li.current")).toContainText("this device");
  const other = sessions.locator("li:not(.current)");
  await expect(other).toContainText("Chrome 156 on Android");
  await other.getByRole("button", { name: /^End the session on/ }).click();
  await expect(sessions.getByRole("listitem")).toHaveCount(1);
  await expect(page.getByText("Signed in on 1 device.")).toBeVisible();

  await expectSentToLogin(phoneTabs);
  // The laptop is still signed in, and its security events show what happened.
  await page.reload();
  await expect(page.getByRole("list", { name: "Security events" })).toContainText("session revoked");
  expect(errors, errors.join("\n")).toEqual([]);
  await laptop.close();
  await phone.close();
});

test("an administrator disables an account; that user's open tabs follow", async ({ browser }) => {
  const user = await browser.newContext();
  const admin = await browser.newContext();
  const account = await seedAccount(user.request, uniqueEmail("disabled"), 1);
  await signIn(user, account.email);
  const userTabs = await openTabs(user, ["/", "/session"]);

  await signIn(admin, ADMIN_EMAIL, ADMIN_PASSWORD);
  const page = await admin.newPage();
  await page.goto("/admin");
  const accounts = page.getByRole("table", { name: "Accounts" });
  const row = accounts.getByRole("row").filter({ hasText: account.email });
  await expect(row).toContainText("1");
  await row.getByRole("button", { name: `Disable ${account.email}` }).click();
  await expect(row).toContainText("disabled");
  await expectSentToLogin(userTabs);

  // Signing in again is refused, with the answer a wrong password gets.
  const login = userTabs[0];
  await login.getByLabel("Email").fill(account.email);
  await login.getByLabel("Password").fill("correct horse battery");
  await login.getByRole("button", { name: "Sign in" }).click();
  await expect(login.getByRole("alert")).toHaveText("the email or password is not correct");

  await row.getByRole("button", { name: `Enable ${account.email}` }).click();
  await expect(row.getByRole("button", { name: `Disable ${account.email}` })).toBeVisible();
  await user.close();
  await admin.close();
});
