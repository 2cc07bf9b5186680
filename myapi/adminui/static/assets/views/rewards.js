// Rewards inventory: GET /admin/rewards/inventory — stock, reserved, issued, available.

import { get } from "../api.js";
import { badge, fmtInt, fmtTime, h, mount, s, table } from "../dom.js";
import { load } from "./common.js";

/** Stock as a bar: issued, reserved and available side by side. */
function stockMeter(item) {
  const total = Math.max(1, item.stock || 0);
  const w = (v) => ((Math.max(0, v || 0) / total) * 160).toFixed(1);
  const issued = Number(w(item.issued));
  const reserved = Number(w(item.reserved));
  return s("svg", { viewBox: "0 0 160 12", class: "meter", role: "img",
    "aria-label": `${item.issued} issued, ${item.reserved} reserved, ${item.available} available of ${item.stock}` },
  s("rect", { x: 0, y: 0, width: 160, height: 12, class: "track" }),
  s("rect", { x: 0, y: 0, width: issued, height: 12, class: "seg issued", "data-value": item.issued }),
  s("rect", { x: issued, y: 0, width: reserved, height: 12, class: "seg reserved", "data-value": item.reserved }),
  s("rect", { x: issued + reserved, y: 0, width: w(item.available), height: 12, class: "seg available",
    "data-value": item.available }));
}

export default async function rewards(view) {
  const body = h("div", { class: "body" });
  mount(view, h("h1", {}, "Rewards inventory"), body);
  await load(view, body, async () => {
    const { data } = await get("/admin/rewards/inventory");
    mount(body, table([
      { key: "sku", label: "SKU" },
      { key: "title", label: "Title", class: "wrap" },
      { key: "cost_points", label: "Cost", class: "num", render: fmtInt },
      { key: "stock", label: "Stock", class: "num", render: fmtInt },
      { key: "reserved", label: "Reserved", class: "num", render: fmtInt },
      { key: "issued", label: "Issued", class: "num", render: fmtInt },
      { key: "available", label: "Available", class: "num", render: fmtInt },
      { key: "meter", label: "", render: (_v, row) => stockMeter(row) },
      { key: "vendor", label: "Vendor" },
      { key: "is_active", label: "State", render: (v) => badge(v ? "ACTIVE" : "INACTIVE") },
      { key: "updated_at", label: "Updated", render: fmtTime },
    ], data, { empty: "No reward SKU yet.", rowAttrs: (row) => ({ "data-sku": row.sku }) }));
  });
}
