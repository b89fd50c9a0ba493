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

  /** The page's period parameters, the missing ones filled in (the last 30 days, compared with the
   * 30 before; daily averages) and put into the URL and the form. */
  function periods(form, defaults) {
    const chosen = P.state();
    const params = P.prepare(form, { granularity: "daily", ...defaults, ...comparison(chosen) }, { zone: false });
    return { params, period: {
      start_date: params.get("start_date"),
      end_date: params.get("end_date"),
      compare_start_date: params.get("compare_start_date"),
      compare_end_date: params.get("compare_end_date"),
      granularity: params.get("granularity"),
    } };
  }

  /** The comparison period a URL without one gets: the period of the same length just before. */
  function comparison(params) {
    if (params.has("compare_start_date") || params.has("compare_end_date")) return {};
    const end = params.get("end_date") || P.today(Intl.DateTimeFormat().resolvedOptions().timeZone);
    const start = params.get("start_date") || P.addDays(end, -29);
    const days = P.daysBetween(start, end);
    return { compare_start_date: P.addDays(start, -days), compare_end_date: P.addDays(start, -1) };
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
