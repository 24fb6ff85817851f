import { test, expect } from "@playwright/test";
import { collectConsoleErrors, seedAccount, signIn, uniqueEmail, waitSynced } from "./support";

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
  // The body shows as text (the edit form's textarea holds it too, as its value).
  await expect(drafts.locator("p.body").filter({ hasText: "window.pwned=1" })).toHaveText(BODY);
  const item = drafts.getByRole("listitem").filter({ hasText: TITLE });
  await item.getByText("Edit").click();
  await expect(item.getByLabel("Body")).toHaveValue(BODY);
  await expect(item.getByLabel("Title")).toHaveValue(TITLE);
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  expect(await page.locator("img[src=x]").count()).toBe(0);
  expect(errors, errors.join("\n")).toEqual([]);
});

// The page runs under its Content-Security-Policy (a nonce per response, no 'unsafe-inline'):
// it hydrates, syncs and navigates with no violation reported.
test("pages hydrate under the CSP with no violation", async ({ context }) => {
  const errors = collectConsoleErrors(context);
  await context.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { cspViolations: string[] }).cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const account = await seedAccount(context.request, uniqueEmail("csp"), 2);
  await signIn(context, account.email);
  const page = await context.newPage();
  const res = await page.goto("/");
  const csp = res?.headers()["content-security-policy"] ?? "";
  expect(csp).toContain("script-src 'self' 'nonce-");
  expect(csp).not.toContain("unsafe-inline");
  const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
  expect(await page.locator(`script[nonce]`).count()).toBeGreaterThan(0);
  const violations: string[] = [];
  const readViolations = async () =>
    violations.push(...(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)));
  await waitSynced(page);
  await readViolations();
  for (const path of ["/platforms", "/sessions", "/session"]) {
    await page.goto(path);
    await waitSynced(page);
    await readViolations();
  }
  expect(nonce).toBeTruthy();
  expect(violations).toEqual([]);
  expect(errors, errors.join("\n")).toEqual([]);
});
