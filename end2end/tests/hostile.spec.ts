import { test, expect } from "@playwright/test";
import { collectConsoleErrors, seedAccount, signIn, uniqueEmail } from "./support";

// Values built to break out of the page stay text: in the server-rendered HTML and after
// hydration (server/tests/api/hostile.rs checks the HTML alone).

const BODY = "</textarea><script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">";
const TITLE = "<b onmouseover=\"window.pwned=3\">bold?</b>";

test("a hostile draft renders as text and edits as text", async ({ context }) => {
  const errors = collectConsoleErrors(context);
  const account = await seedAccount(context.request, uniqueEmail("xss"), 1);
  await signIn(context, account.email);
  const csrf = (await (await context.request.get("/api/session")).json()).csrf_token as string;
  const res = await context.request.post("/api/add_draft", { form: { title: TITLE, body: BODY }, headers: { "X-CSRF-Token": csrf } });
  expect(res.status()).toBe(200);

  const page = await context.newPage();
  await page.goto("/");
  const drafts = page.getByRole("list", { name: "Drafts" });
  await expect(drafts.getByRole("heading", { name: TITLE })).toBeVisible();
  await expect(drafts.getByText(BODY, { exact: true })).toBeVisible();
  const item = drafts.getByRole("listitem").filter({ hasText: TITLE });
  await item.getByText("Edit").click();
  await expect(item.getByLabel("Body")).toHaveValue(BODY);
  await expect(item.getByLabel("Title")).toHaveValue(TITLE);
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  expect(await page.locator("img[src=x]").count()).toBe(0);
  expect(errors, errors.join("\n")).toEqual([]);
});
