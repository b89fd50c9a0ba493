/* One app: seed 001's four cards, the three App Activity series and the per-user table. */
"use strict";

(() => {
  const P = Portal;
  const { params, period } = AppData.periods(document.getElementById("controls"), { ordering: "-active_time_ms" });
  const limit = Number(params.get("limit") || 25);
  const offset = Number(params.get("offset") || 0);
  const base = `/v2/clients/${P.config.client_id}/analytics/apps/${P.config.app_id}`;
  const scope = { start_date: period.start_date, end_date: period.end_date };
  const SERIES = [
    { metric: "user-count", label: "Users", digits: 0, scale: 1 },
    { metric: "active-time", label: "Active hours", digits: 2, scale: 3600000 },
    { metric: "session-count", label: "Sessions", digits: 0, scale: 1 },
  ];

  function cards(detail) {
    document.getElementById("period-label").textContent = detail.period.compare_start_date
      ? `${detail.period.start_date} to ${detail.period.end_date}, against ${detail.period.compare_start_date} to ${detail.period.compare_end_date}`
      : `${detail.period.start_date} to ${detail.period.end_date}`;
    const list = document.getElementById("cards");
    list.replaceChildren();
    for (const metric of AppData.METRICS) {
      const cell = detail[metric.key];
      const change = P.change(cell.change_pct);
      list.append(P.element("div", { class: "figure", id: `card-${metric.key}` },
        P.element("dt", { text: metric.label }),
        P.element("dd", { class: "value", text: metric.format(cell.value) }),
        P.element("dd", { class: `change ${change.direction}`, text: change.text }),
        P.element("dd", { class: "previous", text: `compared: ${cell.compare_value === null ? "—" : metric.format(cell.compare_value)}` })));
    }
  }

  function activity(series) {
    const days = series[0].points.map((point) => point.date);
    const xs = days.map((day) => P.wallSeconds(`${day} 00:00:00`));
    series.forEach((one, i) => {
      const spec = SERIES[i];
      P.chart(document.getElementById(`chart-${spec.metric}`), {
        xs,
        series: [{ label: spec.label, values: one.points.map((point) => point.value / spec.scale), digits: spec.digits, color: P.PALETTE[i] }],
      });
    });
    const rows = days.map((day, at) => {
      const row = { date: day };
      series.forEach((one, i) => { row[SERIES[i].metric] = one.points[at].value / SERIES[i].scale; });
      return row;
    });
    P.table(document.getElementById("activity"), [
      { key: "date", label: "Day" },
      ...SERIES.map((spec) => ({ key: spec.metric, label: spec.label, numeric: true, format: (v) => P.number(v, spec.digits) })),
    ], rows);
  }

  function users(page) {
    P.table(document.getElementById("users"), [
      { key: "email", label: "User" },
      { key: "active_time_ms", label: "Active hours", numeric: true, format: (v) => P.number(v / 3600000, 2) },
      { key: "session_count", label: "Sessions", numeric: true, format: (v) => P.number(v) },
      { key: "active_days", label: "Active days", numeric: true, format: (v) => P.number(v) },
      { key: "first_active_date", label: "First active" },
      { key: "last_active_date", label: "Last active" },
    ], page.results, AppData.sortBy(params.get("ordering")));
    AppData.pager(page, offset, limit);
  }

  P.start(async () => {
    const [detail, people, ...series] = await Promise.all([
      P.api(`${base}/utilization`, period),
      P.api(`${base}/utilization/users`, { ...scope, ordering: params.get("ordering"), limit, offset }),
      ...SERIES.map((spec) => P.api(`${base}/activity`, { ...scope, metric: spec.metric })),
    ]);
    cards(detail);
    activity(series);
    users(people);
  });
})();
