/* Device usage of an organization: headline figures against the previous period, a chart stacked
 * by group, the group table. Every number is the API's answer for the parameters in the URL. */
"use strict";

(() => {
  const P = Portal;
  const ONE_BIN = 3153600000; // seconds (100 years): one bin that is the whole range
  const TOP = 8; // groups drawn on their own; the rest are "other"
  const HEADLINE = [
    { key: "total_time", label: "Total hours", digits: 2 },
    { key: "session_count", label: "Sessions", digits: 0 },
    { key: "device_count", label: "Active devices", digits: 0 },
    { key: "peak_concurrency", label: "Peak concurrency", digits: 0 },
    { key: "utilization", label: "Utilization", digits: 1, suffix: "%" },
  ];
  // grouping -> the row field that identifies a group, the one that names it, and the table's column title
  const GROUPINGS = {
    device: { id: "device_address", name: "device_address", title: "Device" },
    team: { id: "team_id", name: "team_name", title: "Team", none: "(no team)" },
    user: { id: "user_id", name: "user_email", title: "User", none: "(no user)" },
    host: { id: "hostname", name: "hostname", title: "Host" },
  };

  const form = document.getElementById("controls");
  const params = P.prepare(form, { bin_size: "day", grouping: "org" });

  const grouping = params.get("grouping");
  const scope = {
    org_id: P.config.pass_org_id ? P.config.org_id : null,
    timezone: params.get("timezone"),
    filter_team_id: params.getAll("filter_team_id"),
    filter_user_id: params.getAll("filter_user_id"),
    filter_device_address: params.getAll("filter_device_address"),
  };
  const range = { start_date: params.get("start_date"), end_date: params.get("end_date") };
  const days = P.daysBetween(range.start_date, range.end_date);
  const previous = { start_date: P.addDays(range.start_date, -days), end_date: P.addDays(range.start_date, -1) };
  const route = `/v2/usage/${grouping}`;
  const binned = { ...scope, ...range, bin_size: params.get("bin_size"), unit: "hour" };
  const whole = { ...scope, ...range, bin_size: ONE_BIN, unit: "hour" };

  function pickers() {
    const org = { org_id: scope.org_id, limit: 1000 };
    const fill = (id, path, valueKey, labelKey, ordering) =>
      P.api(path, { ...org, ordering }).then(
        (page) => P.options(document.getElementById(id), page.results, valueKey, labelKey, params.getAll(id)),
        (error) => console.error(`${path}: ${error.message}`),
      );
    fill("filter_team_id", "/v2/teams", "id", "name", "name");
    fill("filter_user_id", "/v2/users", "id", "email", "email");
    fill("filter_device_address", "/v2/devices", "address", "address", "address");
    const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
    document.getElementById("zones").replaceChildren(...zones.map((z) => P.element("option", { value: z })));
  }

  function headline(current, before) {
    document.getElementById("range-label").textContent = `${range.start_date} to ${range.end_date}`;
    document.getElementById("previous-label").textContent =
      `previous ${days} day${days === 1 ? "" : "s"} (${previous.start_date} to ${previous.end_date})`;
    const list = document.getElementById("headline");
    list.replaceChildren();
    for (const figure of HEADLINE) {
      const value = current[figure.key];
      const was = before[figure.key];
      const change = P.change(P.changePct(value, was));
      const show = (v) => (v === null || v === undefined ? "—" : P.number(v, figure.digits) + (figure.suffix || ""));
      list.append(P.element("div", { class: "figure", id: `figure-${figure.key}` },
        P.element("dt", { text: figure.label }),
        P.element("dd", { class: "value", text: show(value) }),
        P.element("dd", { class: `change ${change.direction}`, text: change.text }),
        P.element("dd", { class: "previous", text: `previous: ${show(was)}` })));
    }
  }

  function groupKey(row) {
    const g = GROUPINGS[grouping];
    return g ? String(row[g.id]) : "all";
  }

  function groupName(row) {
    const g = GROUPINGS[grouping];
    return g ? (row[g.name] ?? g.none) : "All devices";
  }

  function draw(bins, rows, totals) {
    const xs = bins.map((row) => row.start_time);
    const position = new Map(xs.map((x, i) => [x, i]));
    const ranked = grouping === "org" ? [{ key: "all", name: "All devices" }]
      : P.sortRows(totals, "total_time", true).map((row) => ({ key: groupKey(row), name: groupName(row) }));
    const shown = ranked.slice(0, TOP);
    const index = new Map(shown.map((group, i) => [group.key, i]));
    const series = shown.map((group, i) => ({ label: group.name, values: xs.map(() => 0), color: P.PALETTE[i] }));
    const other = { label: "other", values: xs.map(() => 0), color: P.OTHER_COLOR };
    for (const row of grouping === "org" ? bins : rows) {
      const at = position.get(row.start_time);
      const i = index.get(groupKey(row));
      (i === undefined ? other : series[i]).values[at] += row.total_time;
    }
    if (ranked.length > TOP) series.push(other);
    const seconds = xs.map(P.wallSeconds);
    for (let i = 1; i < seconds.length; i++) if (seconds[i] <= seconds[i - 1]) seconds[i] = seconds[i - 1] + 1;
    P.chart(document.getElementById("chart"), { xs: seconds, series, stacked: true, yLabel: "hours" });

    const columns = [{ key: "datetime", label: bins.length && binned.bin_size === "hour" ? "Hour" : "Bin" },
      ...series.map((one, i) => ({ key: `s${i}`, label: one.label, numeric: true, format: (v) => P.number(v, 2) }))];
    const tableRows = bins.map((bin, at) => {
      const row = { datetime: bin.datetime };
      series.forEach((one, i) => { row[`s${i}`] = one.values[at]; });
      return row;
    });
    P.table(document.getElementById("chart-table"), columns, tableRows);
  }

  function groupTable(totals) {
    const section = document.getElementById("groups-section");
    if (grouping === "org") {
      section.hidden = true;
      return;
    }
    const title = GROUPINGS[grouping].title;
    const rows = totals.map((row) => ({ ...row, group: groupName(row) }));
    const columns = [
      { key: "group", label: title },
      { key: "total_time", label: "Hours", numeric: true, format: (v) => P.number(v, 2) },
      { key: "session_count", label: "Sessions", numeric: true, format: (v) => P.number(v) },
      { key: "device_count", label: "Devices", numeric: true, format: (v) => P.number(v) },
    ];
    const render = () => {
      const ordering = new URLSearchParams(window.location.search).get("ordering") || "-total_time";
      const key = ordering.replace(/^-/, "");
      const descending = ordering.startsWith("-");
      P.table(document.getElementById("groups"), columns, P.sortRows(rows, key, descending), {
        key,
        descending,
        onSort: (column, down) => {
          const next = new URLSearchParams(window.location.search);
          next.set("ordering", `${down ? "-" : ""}${column}`);
          window.history.pushState(null, "", `?${next}`);
          render();
        },
      });
    };
    window.addEventListener("popstate", render);
    render();
    document.getElementById("csv-groups").href = P.url(route, { ...whole, format: "csv" });
  }

  P.start(async () => {
    const metrics = HEADLINE.map((figure) => figure.key).join(",");
    const [now, before, bins, grouped, totals] = await Promise.all([
      P.api("/v2/usage", { ...scope, ...range, bin_size: ONE_BIN, unit: "hour", metrics }),
      P.api("/v2/usage", { ...scope, ...previous, bin_size: ONE_BIN, unit: "hour", metrics }),
      P.api("/v2/usage", binned),
      grouping === "org" ? null : P.api(route, binned),
      grouping === "org" ? null : P.api(route, whole),
    ]);
    headline(now.report[0], before.report[0]);
    draw(bins.report, grouped ? grouped.report : [], totals ? totals.report : []);
    groupTable(totals ? totals.report : []);
    document.getElementById("csv-report").href = P.url(route, { ...binned, format: "csv" });
    pickers(); // after the numbers: the device list (first and last use of each) must not slow them down
  });
})();
