// /admin/dashboard, live: the server pushes the dashboard's figures, rendered, at every sample
// (GET /api/admin/dashboard/events, Server-Sent Events), and they replace the ones shown.
// Without this script (or EventSource) the page shows the figures as they were when it loaded.
const STREAM = "/api/admin/dashboard/events";

function follow() {
  const events = new EventSource(STREAM);
  events.addEventListener("sample", (event) => {
    const shown = document.getElementById("dashboard-live");
    if (!shown) return;
    const next = new DOMParser().parseFromString(event.data, "text/html").getElementById("dashboard-live");
    if (next) shown.replaceWith(next);
    document.documentElement.dataset.dashboardLive = "on";
  });
  // EventSource reconnects by itself after a dropped connection; after a refusal (signed out,
  // not an administrator) it stops, and the page stays as it was.
  events.addEventListener("error", () => {
    if (events.readyState === EventSource.CLOSED) document.documentElement.dataset.dashboardLive = "off";
  });
}

if ("EventSource" in window && document.getElementById("dashboard-live")) follow();
