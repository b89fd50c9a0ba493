/* The devices of an organization (GET /v2/devices) with their hours and utilization over the range. */
"use strict";

(() => {
  const P = Portal;
  const ONE_BIN = 3153600000;
  const params = P.prepare(document.getElementById("controls"), { ordering: "address" });

  const org = P.config.pass_org_id ? P.config.org_id : null;
  const limit = Number(params.get("limit") || 100);
  const offset = Number(params.get("offset") || 0);

  function pageLink(id, target) {
    const link = document.getElementById(id);
    if (target === null) return;
    const next = P.state();
    if (target > 0) next.set("offset", target); else next.delete("offset");
    link.href = `?${next}`;
    link.hidden = false;
  }

  P.start(async () => {
    const [page, usage] = await Promise.all([
      P.api("/v2/devices", {
        org_id: org, search: params.get("search"), idle_since: params.get("idle_since"),
        ordering: params.get("ordering"), limit, offset,
      }),
      P.api("/v2/usage/device", {
        org_id: org, start_date: params.get("start_date"), end_date: params.get("end_date"),
        timezone: params.get("timezone"), bin_size: ONE_BIN, unit: "hour", metrics: "total_time,utilization",
      }),
    ]);
    const byAddress = new Map(usage.report.map((row) => [row.device_address, row]));
    const rows = page.results.map((device) => {
      const used = byAddress.get(device.address);
      return { ...device, hours: used ? used.total_time : 0, utilization: used ? used.utilization : 0 };
    });
    const base = window.location.pathname;
    P.table(document.getElementById("devices"), [
      { key: "address", label: "Device", link: (row) => `${base}${row.id}/?${new URLSearchParams({
        start_date: params.get("start_date"), end_date: params.get("end_date"), timezone: params.get("timezone") })}` },
      { key: "hostname", label: "Host" },
      { key: "country", label: "Country" },
      { key: "model", label: "Model" },
      { key: "os", label: "OS" },
      { key: "device_type", label: "Type" },
      { key: "last_used", label: "Last used", format: (v) => (v ? v.replace("T", " ").slice(0, 19) : "never") },
      { key: "hours", label: "Hours in range", numeric: true, format: (v) => P.number(v, 2) },
      { key: "utilization", label: "Utilization", numeric: true, format: (v) => `${P.number(v, 1)}%` },
    ], rows);
    document.getElementById("summary").textContent =
      `${page.count} device${page.count === 1 ? "" : "s"}; showing ${rows.length ? offset + 1 : 0} to ${offset + rows.length}.`;
    pageLink("previous", offset > 0 ? Math.max(0, offset - limit) : null);
    pageLink("next", page.next ? offset + limit : null);
  });
})();
