/* One device: its facts (GET /v2/devices/{id}), its usage over time and its sessions, paged. */
"use strict";

(() => {
  const P = Portal;
  const params = P.prepare(document.getElementById("controls"), { bin_size: "day" });

  const org = P.config.pass_org_id ? P.config.org_id : null;
  const scope = {
    org_id: org, start_date: params.get("start_date"), end_date: params.get("end_date"),
    timezone: params.get("timezone"), filter_device_address: P.config.address,
  };

  P.start(async () => {
    const [device, usage, sessions] = await Promise.all([
      P.api(`/v2/devices/${P.config.device_pk}`, { org_id: org }),
      P.api("/v2/usage", { ...scope, bin_size: params.get("bin_size"), unit: "hour",
        metrics: "total_time,session_count,utilization" }),
      P.api("/v2/usage/event", { ...scope, limit: params.get("limit") || 50, cursor: params.get("cursor") }),
    ]);
    const facts = document.getElementById("facts");
    facts.replaceChildren();
    for (const [label, key] of [["Host", "hostname"], ["Country", "country"], ["Model", "model"], ["OS", "os"],
      ["Type", "device_type"], ["First used", "first_used"], ["Last used", "last_used"]]) {
      facts.append(P.element("dt", { text: label }), P.element("dd", { "data-key": key, text: device[key] || "—" }));
    }
    const bins = usage.report;
    P.chart(document.getElementById("chart"), {
      xs: bins.map((row) => P.wallSeconds(row.start_time)),
      series: [{ label: device.address, values: bins.map((row) => row.total_time) }],
      yLabel: "hours",
    });
    P.table(document.getElementById("bins"), [
      { key: "datetime", label: "Bin" },
      { key: "total_time", label: "Hours", numeric: true, format: (v) => P.number(v, 2) },
      { key: "session_count", label: "Sessions started", numeric: true },
      { key: "utilization", label: "Utilization", numeric: true, format: (v) => `${P.number(v, 1)}%` },
    ], bins);
    P.table(document.getElementById("sessions"), [
      { key: "start_time", label: "Start" },
      { key: "end_time", label: "End" },
      { key: "duration", label: "Minutes", numeric: true, format: (v) => P.number(v / 60, 1) },
      { key: "user_email", label: "User" },
      { key: "team_name", label: "Team" },
      { key: "automated", label: "Automated", format: (v) => (v ? "yes" : "no") },
    ], sessions.report);
    if (sessions.next_cursor) {
      const next = P.state();
      next.set("cursor", sessions.next_cursor);
      const link = document.getElementById("next");
      link.href = `?${next}`;
      link.hidden = false;
    }
  });
})();
