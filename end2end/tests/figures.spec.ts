import { test, expect, type APIRequestContext } from "@playwright/test";
import { collectConsoleErrors, expectCommitted, leaderFirst, openTabs, seedAccount, signIn, uniqueEmail } from "./support";

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
  // The server's push would make the leader check at once, and can reach it before the
  // follower's answer does (then nothing propagated): the push stream is held, never answered,
  // so the leader hears of the switch over the channel only, and reports on its next periodic
  // check (every 5 s on the test server).
  await context.route("**/api/session_events*", () => {});
  // The switch is made in the tab that does not lead (either may win the election).
  const [leader, follower] = await leaderFirst(await openTabs(context, ["/", "/platforms"]));
  await leader.waitForTimeout(2_500);
  const target = account.platforms[1];
  await follower.getByRole("combobox", { name: "Active platform" }).selectOption(String(target.id));
  await expectCommitted([leader, follower], target);
  await expect.poll(() => reports.length, { message: "a report with a propagation time", timeout: 15_000 }).toBeGreaterThan(0);
  const times = reports[0].searchParams.get("propagation_us")!.split(",").map(Number);
  // Over the channel between two tabs of one browser: well under a second.
  for (const us of times) expect(us).toBeLessThan(1_000_000);
  expect(Number(reports[0].searchParams.get("checks"))).toBeGreaterThan(0);
  await expect.poll(() => metric(context.request, "switchboard_client_propagation_seconds_count")).toBeGreaterThan(before);
  expect(errors, errors.join("\n")).toEqual([]);
});
