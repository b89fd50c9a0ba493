/* The portal's shared helpers: read the page's state from its URL, ask the JSON API (session
 * cookie, same origin), format numbers, draw tables and charts. No framework: plain DOM. */
"use strict";

const Portal = (() => {
  const config = (() => {
    const node = document.getElementById("portal-config");
    return node ? JSON.parse(node.textContent) : {};
  })();

  /** The page's query string as URLSearchParams (its state). */
  const state = () => new URLSearchParams(window.location.search);

  /** Put defaults the page chose into its URL without a new history entry, so that a link reproduces it. */
  function settle(params) {
    const url = `${window.location.pathname}?${params.toString()}`;
    if (url !== window.location.pathname + window.location.search) window.history.replaceState(null, "", url);
  }

  /** A URL of the API: path and parameters (arrays repeat the parameter). */
  function url(path, params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      for (const one of [].concat(value)) {
        if (one !== undefined && one !== null && one !== "") query.append(key, one);
      }
    }
    const text = query.toString();
    return text ? `${path}?${text}` : path;
  }

  class ApiError extends Error {}

  /** GET a JSON route of the API with the session cookie; an error envelope becomes an ApiError. */
  async function api(path, params = {}) {
    const response = await fetch(url(path, params), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error ? body.error.message : `The server answered ${response.status}.`;
      throw new ApiError(message);
    }
    return body;
  }

  /** Show an error where the page's numbers would be. */
  function fail(error) {
    const box = document.getElementById("errors");
    if (box) {
      box.textContent = error instanceof ApiError ? error.message : `Something went wrong: ${error}`;
      box.hidden = false;
    }
    document.body.dataset.state = "error";
    console.error(error);
  }

  /** Run the page's loader; the body says when its numbers are drawn (browser tests wait on it). */
  function start(loader) {
    document.body.dataset.state = "loading";
    loader().then(() => {
      document.body.dataset.readyMs = String(Math.round(performance.now())); // since navigation started
      document.body.dataset.state = "ready";
    }, fail);
  }

  const formats = {};
  function number(value, digits = 0) {
    if (value === null || value === undefined) return "—";
    const key = String(digits);
    formats[key] ??= new Intl.NumberFormat("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
    return formats[key].format(value);
  }

  /** A change in percent, one decimal, with its direction; null (no comparison, or 0 before) as a dash. */
  function change(pct) {
    if (pct === null || pct === undefined) return { text: "—", direction: "none" };
    if (pct > 0) return { text: `▲ +${number(pct, 1)}%`, direction: "up" };
    if (pct < 0) return { text: `▼ −${number(-pct, 1)}%`, direction: "down" };
    return { text: "0.0%", direction: "flat" };
  }

  /** (value - previous) / previous × 100, one decimal; null when previous is 0 or missing (as change_pct). */
  function changePct(value, previous) {
    if (previous === null || previous === undefined || previous === 0 || value === null || value === undefined) {
      return null;
    }
    return Math.round(((value - previous) / previous) * 1000) / 10;
  }

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  /**
   * Fill `table` with columns [{key, label, format?, numeric?, link?}] and rows of objects.
   * `sort` ({key, descending, onSort}) makes the headers buttons that sort by their column.
   */
  function table(target, columns, rows, sort = null) {
    const head = element("tr");
    for (const column of columns) {
      const th = element("th", { scope: "col", class: column.numeric ? "num" : "" });
      if (sort) {
        const active = sort.key === column.key;
        th.setAttribute("aria-sort", active ? (sort.descending ? "descending" : "ascending") : "none");
        const arrow = active ? (sort.descending ? " ▼" : " ▲") : "";
        th.append(element("button", {
          type: "button",
          class: "sort",
          "data-key": column.key,
          text: column.label + arrow,
          onclick: () => sort.onSort(column.key, active ? !sort.descending : !!column.numeric),
        }));
      } else {
        th.textContent = column.label;
      }
      head.append(th);
    }
    const body = element("tbody");
    for (const row of rows) {
      const tr = element("tr");
      for (const column of columns) {
        const value = row[column.key];
        const text = column.format ? column.format(value, row) : (value ?? "—");
        const td = element("td", { class: column.numeric ? "num" : "", "data-key": column.key });
        const href = column.link && column.link(row);
        td.append(href ? element("a", { href, text }) : text);
        tr.append(td);
      }
      body.append(tr);
    }
    target.replaceChildren(element("thead", {}, head), body);
    if (!rows.length) {
      body.append(element("tr", {}, element("td", { colspan: columns.length, class: "empty", text: "No rows." })));
    }
  }

  function sortRows(rows, key, descending) {
    const sign = descending ? -1 : 1;
    return [...rows].sort((a, b) => {
      const x = a[key], y = b[key];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (typeof x === "number" ? x - y : String(x).localeCompare(String(y))) * sign;
    });
  }

  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];
  const OTHER_COLOR = "#bab0ac";

  /** "YYYY-MM-DD HH:MM:SS" (a wall time of the report's zone) as seconds, drawn as that wall time. */
  function wallSeconds(text) {
    return Date.parse(`${text.replace(" ", "T")}Z`) / 1000;
  }

  /**
   * A chart of series over x (seconds of wall time), stacked when `stacked`; the legend shows each
   * series' own value, not the stacked sum. Redrawn to the container's width.
   */
  function chart(target, { xs, series, stacked = false, yLabel = "" }) {
    target.replaceChildren();
    const data = [xs];
    let running = xs.map(() => 0);
    for (const one of series) {
      data.push(stacked ? (running = one.values.map((v, i) => running[i] + (v ?? 0))) : one.values);
    }
    const bands = stacked ? series.slice(1).map((_, i) => ({ series: [i + 2, i + 1] })) : [];
    const options = {
      width: Math.max(280, target.clientWidth || 600),
      height: 300,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true } },
      axes: [{}, { label: yLabel, size: 60 }],
      bands,
      series: [
        {},
        ...series.map((one, i) => ({
          label: one.label,
          stroke: one.color || PALETTE[i % PALETTE.length],
          fill: `${one.color || PALETTE[i % PALETTE.length]}${stacked ? "cc" : "33"}`,
          width: stacked ? 1 : 2,
          paths: uPlot.paths.stepped({ align: 1 }),
          value: (u, v, s, index) => (index === null ? "—" : number(series[s - 1].values[index], one.digits ?? 2)),
        })),
      ],
    };
    const plot = new uPlot(options, data, target);
    new ResizeObserver(() => plot.setSize({ width: Math.max(280, target.clientWidth), height: 300 })).observe(target);
    return plot;
  }

  /** The local calendar date `days` from `day` (YYYY-MM-DD strings, no time zone involved). */
  function addDays(day, days) {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function daysBetween(first, last) {
    return Math.round((Date.parse(`${last}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / 86400000) + 1;
  }

  /** Today in a time zone, as YYYY-MM-DD. */
  function today(zone) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(new Date());
  }

  const PRESETS = {
    "7d": (t) => [addDays(t, -6), t],
    "30d": (t) => [addDays(t, -29), t],
    "90d": (t) => [addDays(t, -89), t],
    "this-month": (t) => [`${t.slice(0, 8)}01`, t],
    "last-month": (t) => {
      const last = addDays(`${t.slice(0, 8)}01`, -1);
      return [`${last.slice(0, 8)}01`, last];
    },
    "this-year": (t) => [`${t.slice(0, 4)}-01-01`, t],
  };

  /** Wire a preset select to the form's date inputs: choosing a preset fills them and submits. */
  function presets(form, zone) {
    const select = form.querySelector("select[data-presets]");
    if (!select) return;
    select.addEventListener("change", () => {
      const preset = PRESETS[select.value];
      if (!preset) return;
      const [first, last] = preset(today(zone()));
      form.elements.start_date.value = first;
      form.elements.end_date.value = last;
      form.requestSubmit();
    });
  }

  /**
   * The page's state, its missing parts filled in: a time zone (the browser's), the last 30 days, and
   * ``defaults``; put into the URL and the form, whose range presets are wired. ``zone``: false for
   * pages without one.
   */
  function prepare(form, defaults = {}, { zone = true } = {}) {
    const params = state();
    const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && !params.get("timezone")) params.set("timezone", browserZone);
    if (!params.get("end_date")) params.set("end_date", today(params.get("timezone") || browserZone));
    if (!params.get("start_date")) params.set("start_date", addDays(params.get("end_date"), -29));
    for (const [key, value] of Object.entries(defaults)) if (!params.get(key)) params.set(key, value);
    settle(params);
    fillForm(form, params);
    presets(form, () => (form.elements.timezone && form.elements.timezone.value) || browserZone);
    return params;
  }

  /** Fill a form's controls from the URL (its single and repeated values). */
  function fillForm(form, params) {
    for (const control of form.elements) {
      if (!control.name || !params.has(control.name)) continue;
      if (control.multiple) {
        const chosen = new Set(params.getAll(control.name));
        for (const option of control.options) option.selected = chosen.has(option.value);
      } else if (control.type === "checkbox") {
        control.checked = params.get(control.name) === "true";
      } else {
        control.value = params.get(control.name);
      }
    }
  }

  /** Options of a select from rows (value and label keys), keeping the chosen ones chosen. */
  function options(select, rows, valueKey, labelKey, chosen) {
    const picked = new Set(chosen);
    select.replaceChildren(...rows.map((row) => {
      const option = element("option", { value: row[valueKey], text: row[labelKey] });
      option.selected = picked.has(String(row[valueKey]));
      return option;
    }));
  }

  /** Replace one parameter of the page's URL (null removes it) and go there: a new history entry. */
  function go(changes) {
    const params = state();
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === undefined || value === "") params.delete(key);
      else params.set(key, value);
    }
    window.location.search = params.toString();
  }

  return {
    config, state, settle, url, api, start, fail, number, change, changePct, element, table, sortRows, chart,
    addDays, daysBetween, today, presets, prepare, fillForm, options, go, wallSeconds, PALETTE, OTHER_COLOR,
  };
})();
