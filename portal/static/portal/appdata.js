/* What the two app pages share: the period defaults, the metrics and how they read. */
"use strict";

const AppData = (() => {
  const P = Portal;
  const METRICS = [
    { key: "unique_users", label: "Unique users", format: (v) => P.number(v) },
    { key: "active_time_ms", label: "Active time", format: (v) => (v === null ? "—" : `${P.number(v / 3600000, 2)} h`) },
    { key: "avg_time_ms_per_day", label: "Average time per day", format: (v) => (v === null ? "—" : `${P.number(v / 60000, 1)} min`) },
    { key: "session_count", label: "Sessions", format: (v) => P.number(v) },
  ];

  /** Fill the URL's missing period parameters: the last 30 days, compared with the 30 before. */
  function periods(params) {
    if (!params.get("end_date")) params.set("end_date", P.today(Intl.DateTimeFormat().resolvedOptions().timeZone));
    if (!params.get("start_date")) params.set("start_date", P.addDays(params.get("end_date"), -29));
    if (!params.has("compare_start_date") && !params.has("compare_end_date")) {
      const days = P.daysBetween(params.get("start_date"), params.get("end_date"));
      params.set("compare_start_date", P.addDays(params.get("start_date"), -days));
      params.set("compare_end_date", P.addDays(params.get("start_date"), -1));
    }
    if (!params.get("granularity")) params.set("granularity", "daily");
    return {
      start_date: params.get("start_date"),
      end_date: params.get("end_date"),
      compare_start_date: params.get("compare_start_date"),
      compare_end_date: params.get("compare_end_date"),
      granularity: params.get("granularity"),
    };
  }

  /** "value (▲ +5.0%, was 40)" as the text of one metric of a row. */
  function withChange(metric, cell) {
    const change = P.change(cell.change_pct);
    return cell.compare_value === null ? metric.format(cell.value)
      : `${metric.format(cell.value)} (${change.text}, was ${metric.format(cell.compare_value)})`;
  }

  /** Links of limit/offset pages as page URLs with the same parameters. */
  function pager(page, offset, limit) {
    for (const [id, target] of [["previous", offset > 0 ? Math.max(0, offset - limit) : null],
      ["next", page.next ? offset + limit : null]]) {
      if (target === null) continue;
      const next = P.state();
      if (target > 0) next.set("offset", target); else next.delete("offset");
      const link = document.getElementById(id);
      link.href = `?${next}`;
      link.hidden = false;
    }
  }

  function sortBy(ordering) {
    return {
      key: ordering.replace(/^-/, ""),
      descending: ordering.startsWith("-"),
      onSort: (key, descending) => P.go({ ordering: `${descending ? "-" : ""}${key}`, offset: null }),
    };
  }

  return { METRICS, periods, withChange, pager, sortBy };
})();
