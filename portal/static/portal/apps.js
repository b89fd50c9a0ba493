/* App Utilization of a client: every app's four metrics with their change, sortable and paged. */
"use strict";

(() => {
  const P = Portal;
  const { params, period } = AppData.periods(document.getElementById("controls"), { ordering: "name" });
  const limit = Number(params.get("limit") || 25);
  const offset = Number(params.get("offset") || 0);

  P.start(async () => {
    const page = await P.api(`/v2/clients/${P.config.client_id}/analytics/apps/utilization`, {
      ...period, ordering: params.get("ordering"), limit, offset,
    });
    const base = window.location.pathname;
    const query = new URLSearchParams(period).toString();
    P.table(document.getElementById("apps"), [
      { key: "name", label: "App", link: (row) => `${base}${row.app_id}/?${query}` },
      ...AppData.METRICS.map((metric) => ({
        key: metric.key, label: metric.label, numeric: true, format: (cell) => AppData.withChange(metric, cell),
      })),
    ], page.results, AppData.sortBy(params.get("ordering")));
    document.getElementById("summary").textContent =
      `${page.count} app${page.count === 1 ? "" : "s"}; showing ${page.results.length ? offset + 1 : 0} to ${offset + page.results.length}.`;
    AppData.pager(page, offset, limit);
  });
})();
