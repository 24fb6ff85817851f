import { test, expect, type Page } from "@playwright/test";
import { seedAccount, signIn, uniqueEmail } from "./support";

type Box = { x: number; y: number; width: number; height: number };

const overlaps = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Signs a new account with two platforms in and opens /platforms. */
async function platformsPage(page: Page, prefix: string) {
  const email = uniqueEmail(prefix);
  const account = await seedAccount(page.context().request, email, 2);
  await signIn(page.context(), email);
  await page.goto("/platforms");
  await expect(page.locator("li.platform")).toHaveCount(2);
  return account;
}

for (const javascript of [true, false]) {
  test.describe(javascript ? "with JavaScript" : "without JavaScript", () => {
    test.use({ javaScriptEnabled: javascript });

    test("removing a platform asks first, and only the confirmation removes it", async ({ page }) => {
      const [first] = (await platformsPage(page, "remove")).platforms;
      const row = page.locator("li.platform", { hasText: first.label });
      const ask = row.getByText("Remove…");
      const confirm = row.getByRole("button", { name: `Remove ${first.label}` });
      await expect(confirm).toBeHidden();
      await ask.click();
      await expect(confirm).toBeVisible();
      await expect(row.locator(".confirm")).toContainText("This cannot be undone.");
      // Closing the question removes nothing.
      await ask.click();
      await expect(confirm).toBeHidden();
      await page.reload();
      await expect(page.locator("li.platform")).toHaveCount(2);
      // Confirmed, it goes.
      await ask.click();
      await confirm.click();
      await expect(page.locator("li.platform")).toHaveCount(1);
      await expect(page.locator("li.platform", { hasText: first.label })).toHaveCount(0);
    });
  });
}

for (const [device, viewport] of [
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 360, height: 740 }],
] as const) {
  test.describe(`on a ${device}`, () => {
    test.use({ viewport });

    test("each platform's row lays out cleanly: label and details, then its actions, nothing off the page or overlapping", async ({ page }) => {
      await platformsPage(page, `layout-${device}`);
      // The longest label there can be (64 characters), which the header's switcher shows too.
      const second = page.locator("li.platform").nth(1);
      await second.getByLabel("New label").fill("A platform label as long as labels can be, sixty-four chars long");
      await second.getByRole("button", { name: "Rename" }).click();
      await expect(page.locator("li.platform").nth(1)).toContainText("sixty-four chars long");
      // Open one confirmation too: it must fit as well.
      await page.locator("li.platform").first().getByText("Remove…").click();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), "no sideways scrolling").toBeLessThanOrEqual(viewport.width);
      for (const row of await page.locator("li.platform").all()) {
        const head = (await row.locator(".platform-head").boundingBox())!;
        const actions = (await row.locator(".platform-actions").boundingBox())!;
        expect(actions.y, "the actions come below the label and details").toBeGreaterThanOrEqual(head.y + head.height - 1);
        const parts = [
          row.locator(".platform-head strong"),
          row.locator(".platform-head .meta"),
          row.getByLabel("New label"),
          row.getByRole("button", { name: "Rename" }),
          row.getByText("Remove…"),
        ];
        const boxes: Box[] = [];
        for (const part of parts) {
          const box = (await part.boundingBox())!;
          expect(box.x + box.width, "inside the page").toBeLessThanOrEqual(viewport.width);
          for (const other of boxes) expect(overlaps(box, other), "no two parts overlap").toBe(false);
          boxes.push(box);
        }
      }
    });
  });
}
