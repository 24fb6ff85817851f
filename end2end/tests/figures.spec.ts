import { test, expect, type APIRequestContext } from "@playwright/test";
import { collectConsoleErrors, expectCommitted, openTabs, seedAccount, signIn, uniqueEmail } from "./support";

// The leader tab's sync figures reach the server's /metrics (the main test server takes a
// report at most every 2 s): how long a switch made in another tab took to reach the leader.

/** A series of the server's /metrics (summed over its labels). */
async function metric(request: APIRequestContext, name: string): Promise<number> {
  const text = await (await request.get("/metrics")).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}

test("the leader tab reports how long a switch in another tab took to reach it", async ({ context }) => {
  const errors = collectConsoleErrors(context);
  const account = await seedAccount(context.request, uniqueEmail("figures"), 2);
  await signIn(context, account.email);
  const before = await metric(context.request, "switchboard_client_propagation_seconds_count");
  const reports: URL[] = [];
  context.on("request", (req) => {
    const url = new URL(req.url());
    if (url.pathname === "/api/session_check" && /\d/.test(url.searchParams.get("propagation_us") ?? "")) reports.push(url);
  });
  // The first tab leads. Once a report is due, the second tab switches: its answer reaches the
  // leader over the channel (a propagation time), and the server's push makes the leader check,
  // which carries the report. The push can win the race to the leader (then nothing propagated):
  // switch again.
  const [leader, follower] = await openTabs(context, ["/", "/platforms"]);
  await leader.waitForTimeout(2_500);
  for (let i = 1; i <= 6 && reports.length === 0; i++) {
    const target = account.platforms[i % 2];
    await follower.getByRole("combobox", { name: "Active platform" }).selectOption(String(target.id));
    await expectCommitted([leader, follower], target);
    await expect.poll(() => reports.length, { timeout: 3_000 }).toBeGreaterThan(0).catch(() => undefined);
  }
  expect(reports.length, "a report with a propagation time").toBeGreaterThan(0);
  const times = reports[0].searchParams.get("propagation_us")!.split(",").map(Number);
  // Over the channel between two tabs of one browser: well under a second.
  for (const us of times) expect(us).toBeLessThan(1_000_000);
  expect(Number(reports[0].searchParams.get("checks"))).toBeGreaterThan(0);
  await expect.poll(() => metric(context.request, "switchboard_client_propagation_seconds_count")).toBeGreaterThan(before);
  expect(errors, errors.join("\n")).toEqual([]);
});
