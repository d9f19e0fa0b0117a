// art ui: a read-only browser for an art store. Plain JavaScript, no dependencies.
// Every page is a hash route, so each view has a URL:
//   #/                     artifacts          #/artifact/NAME       its versions
//   #/version/REF[?diff=R] a version          #/file/REF/PATH       one file's content
//   #/runs[?group&job_type&sort]              #/run/ID              a run
//   #/lineage/TARGET[?depth=N]                the lineage graph around a version or run
// The data comes from /api/ (the CLI's --json answers); /api/seq is polled so the page
// reloads its data when the store changes.
"use strict";

const main = document.getElementById("main");

// ---------- helpers ----------

// Builds an element; strings become text nodes, so stored data is never parsed as HTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === "function" && k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  append(e, children);
  return e;
}
function append(e, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return e;
}

async function api(path) {
  const res = await fetch("/api/" + path, { cache: "no-store" });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}
const enc = encodeURIComponent;

// The CLI's sizes: bytes below 1 KiB, else one decimal in binary units.
function size(n) {
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  if (n < 1024) return n + " B";
  let v = n / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return v.toFixed(1) + " " + units[u];
}
// The CLI's table times: `2026-11-23 12:40` (UTC).
function time(ms) {
  return ms === null || ms === undefined ? "-" : new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}
function value(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}
function shortRun(id) { return id.length > 12 ? id.slice(0, 10) + "…" : id; }

const link = {
  artifact: (n) => "#/artifact/" + enc(n),
  version: (r) => "#/version/" + enc(r),
  file: (r, p) => "#/file/" + enc(r) + "/" + p.split("/").map(enc).join("/"),
  run: (id) => "#/run/" + enc(id),
  lineage: (t) => "#/lineage/" + enc(t),
};

function aliasBadges(aliases) {
  return (aliases || []).map((a) => el("span", { class: "badge" + (a === "latest" ? " latest" : "") }, a));
}
function statusBadge(s) { return el("span", { class: "badge " + s }, s); }
function propsTable(rows) {
  return el("table", { class: "props" }, el("tbody", {},
    rows.filter((r) => r && r[1] !== null && r[1] !== undefined && r[1] !== "")
      .map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))));
}
function kvTable(obj, empty) {
  const keys = Object.keys(obj || {}).sort();
  if (!keys.length) return el("p", { class: "empty" }, empty);
  return el("table", { class: "kv" },
    el("thead", {}, el("tr", {}, el("th", {}, "key"), el("th", {}, "value"))),
    el("tbody", {}, keys.map((k) => el("tr", {}, el("td", { class: "mono" }, k), el("td", { class: "mono" }, value(obj[k]))))));
}
function table(headers, rows, opts) {
  opts = opts || {};
  return el("table", { class: opts.class || "" },
    el("thead", {}, el("tr", {}, headers.map((h) => {
      const th = el("th", { class: (h.num ? "num " : "") + (h.sortable ? "sortable " : "") + (h.sorted ? "sorted" : "") }, h.label || h);
      if (h.onclick) th.addEventListener("click", h.onclick);
      return th;
    }))),
    el("tbody", {}, rows));
}
function page(...children) {
  main.replaceChildren(...children.flat().filter(Boolean));
}
function setNav(which) {
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.dataset.nav === which);
}

// ---------- routing ----------

// `#/page/a/b?k=v`: the page, its decoded path parts and its query.
function parseHash() {
  const h = location.hash.replace(/^#\/?/, "");
  const q = h.indexOf("?");
  const path = q < 0 ? h : h.slice(0, q);
  const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
  return { page: parts[0] || "", parts: parts.slice(1), query: new URLSearchParams(q < 0 ? "" : h.slice(q + 1)) };
}

let rendering = 0;
async function render() {
  const token = ++rendering;
  const { page: name, parts, query } = parseHash();
  try {
    switch (name) {
      case "": setNav("artifacts"); await artifactsPage(); break;
      case "artifact": setNav("artifacts"); await versionsPage(parts[0]); break;
      case "version": setNav("artifacts"); await versionPage(parts[0], query); break;
      case "file": setNav("artifacts"); await filePage(parts[0], parts.slice(1).join("/")); break;
      case "runs": setNav("runs"); await runsPage(query); break;
      case "run": setNav("runs"); await runPage(parts[0]); break;
      case "lineage": setNav(""); await lineagePage(parts[0], query); break;
      default: page(el("p", { class: "error" }, "no page " + location.hash));
    }
  } catch (e) {
    if (token === rendering) page(el("p", { class: "error" }, e.message));
  }
}
window.addEventListener("hashchange", render);

// ---------- artifacts ----------

async function artifactsPage() {
  const list = await api("ls");
  const rows = list.map((a) => el("tr", {},
    el("td", {}, el("a", { href: link.artifact(a.name) }, a.name)),
    el("td", {}, a.collection ? [a.type, " ", el("span", { class: "badge" }, "collection")] : a.type),
    el("td", { class: "num" }, a.versions),
    el("td", {}, a.latest ? el("a", { href: link.version(a.name + ":" + a.latest) }, a.latest) : "-"),
    el("td", { class: "num" }, size(a.size)),
    el("td", {}, a.latest ? el("a", { href: link.lineage(a.name + ":" + a.latest) }, "lineage") : "")));
  page(
    el("h1", {}, "Artifacts"),
    el("p", { class: "sub" }, list.length + " artifact" + (list.length === 1 ? "" : "s")),
    list.length
      ? table(["Name", "Type", { label: "Versions", num: true }, "Latest", { label: "Size", num: true }, ""], rows, { class: "artifacts" })
      : el("p", { class: "empty" }, "no artifacts yet; add one with `art log NAME PATH`"));
}

// ---------- an artifact's versions ----------

async function versionsPage(name) {
  const list = await api("versions/" + enc(name) + "?all=1");
  const kind = list.length ? list[0].type : "";
  const rows = list.slice().reverse().map((v) => {
    const deleted = v.state === "deleted";
    const meta = Object.keys(v.metadata || {}).sort().map((k) => k + "=" + value(v.metadata[k])).join("  ");
    return el("tr", { class: deleted ? "deleted" : "" },
      el("td", {}, el("a", { href: link.version(v.reference) }, "v" + v.version)),
      el("td", {}, deleted ? el("span", { class: "badge deleted" }, "deleted") : aliasBadges(v.aliases)),
      el("td", { class: "num" }, v.files),
      el("td", { class: "num" }, size(v.size)),
      el("td", {}, time(v.created_at)),
      el("td", {}, v.logged_by_run ? el("a", { href: link.run(v.logged_by_run), class: "mono" }, shortRun(v.logged_by_run)) : "-"),
      el("td", {}, v.description || ""),
      el("td", { class: "mono" }, meta));
  });
  page(
    el("div", { class: "crumbs" }, el("a", { href: "#/" }, "Artifacts"), " / "),
    el("h1", {}, name),
    el("p", { class: "sub" }, kind + " · " + list.filter((v) => v.state !== "deleted").length + " live versions"),
    table(["Version", "Aliases", { label: "Files", num: true }, { label: "Size", num: true }, "Created", "Logged by", "Description", "Metadata"], rows, { class: "versions" }));
}

// ---------- a version ----------

// Paths to a tree: directories first, each with the sum of its files' sizes.
function fileTree(files) {
  const root = { dirs: new Map(), files: [], size: 0 };
  for (const f of files) {
    const parts = f.path.split("/");
    let node = root;
    node.size += f.size;
    for (const d of parts.slice(0, -1)) {
      if (!node.dirs.has(d)) node.dirs.set(d, { dirs: new Map(), files: [], size: 0 });
      node = node.dirs.get(d);
      node.size += f.size;
    }
    node.files.push({ name: parts[parts.length - 1], file: f });
  }
  return root;
}
function treeRows(ref, node, depth, out) {
  const pad = (d) => el("span", { class: "indent", style: "width:" + d * 18 + "px" });
  for (const [name, sub] of [...node.dirs.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    out.push(el("tr", { class: "dir-row" },
      el("td", { class: "path" }, pad(depth), el("span", { class: "dir" }, "▸ " + name + "/")),
      el("td", { class: "num" }, size(sub.size)), el("td", {}, "")));
    treeRows(ref, sub, depth + 1, out);
  }
  for (const { name, file } of node.files.sort((a, b) => a.name.localeCompare(b.name))) {
    const label = file.target ? name + " → " + file.target : name;
    out.push(el("tr", { class: "file-row" },
      el("td", { class: "path" }, pad(depth),
        file.kind === "file" ? el("a", { href: link.file(ref, file.path), "data-path": file.path }, label) : label),
      el("td", { class: "num" }, size(file.size)),
      el("td", { class: "mono" }, file.digest.slice(0, 12))));
  }
  return out;
}

async function versionPage(ref, query) {
  const v = await api("show/" + enc(ref));
  const deleted = v.state === "deleted";
  const [files, siblings] = await Promise.all([
    deleted ? Promise.resolve(null) : api("ls/" + enc(v.reference)),
    api("versions/" + enc(v.name)),
  ]);
  const other = query.get("diff");
  const props = propsTable([
    ["version", v.reference],
    ["state", deleted ? (v.collected ? "deleted, data collected" : "deleted") : v.state],
    ["type", v.type],
    ["digest", el("code", {}, v.digest)],
    ["aliases", aliasBadges(v.aliases)],
    ["files", String(v.files)],
    ["size", size(v.size) + " (" + v.size + " bytes)"],
    ["created", time(v.created_at)],
    ["updated", time(v.updated_at)],
    ["source", v.source_path],
    ["links", v.source ? el("a", { href: link.version(v.source) }, v.source) : null],
    ["linked in", v.linked_in && v.linked_in.length ? v.linked_in.map((l) => el("a", { href: link.version(l) }, l + " ")) : null],
    ["tags", v.tags && v.tags.length ? v.tags.join(", ") : null],
    ["logged by", v.logged_by_run ? el("a", { href: link.run(v.logged_by_run), class: "mono" }, v.logged_by_run) : null],
    ["description", v.description],
  ]);

  const picker = el("select", { id: "diff-with", onchange: (e) => {
    const to = e.target.value;
    location.hash = link.version(v.reference) + (to ? "?diff=" + enc(to) : "");
  } }, el("option", { value: "" }, "compare with…"),
  siblings.filter((s) => s.reference !== v.reference).map((s) =>
    el("option", { value: s.reference, selected: s.reference === other }, s.reference + (s.aliases.length ? " (" + s.aliases.join(", ") + ")" : ""))));
  let diffView = null;
  if (other && !deleted) {
    const d = await api("diff/" + enc(other) + "?to=" + enc(v.reference));
    const sym = { added: ["+", "change-added"], removed: ["-", "change-removed"], modified: ["M", "change-modified"] };
    diffView = d.changes.length
      ? table(["", "Path", { label: "Size", num: true }], d.changes.map((c) => el("tr", { class: "change " + c.change },
          el("td", { class: sym[c.change][1] }, sym[c.change][0]),
          el("td", { class: "mono" }, c.path),
          el("td", { class: "num" }, c.change === "modified" ? size(c.old_size) + " → " + size(c.new_size) : size(c.size)))), { class: "diff" })
      : el("p", { class: "empty" }, d.from + " and " + d.to + " are identical");
    diffView = el("div", {}, el("p", { class: "sub" }, "changes from " + d.from + " to " + d.to), diffView);
  }

  page(
    el("div", { class: "crumbs" }, el("a", { href: "#/" }, "Artifacts"), " / ", el("a", { href: link.artifact(v.name) }, v.name), " / "),
    el("h1", {}, v.reference, " ", aliasBadges(v.aliases), deleted ? el("span", { class: "badge deleted" }, "deleted") : null),
    el("div", { class: "actions" },
      el("a", { class: "button", href: link.lineage(v.reference) }, "Lineage graph"),
      el("a", { class: "button", href: link.artifact(v.name) }, "All versions")),
    el("div", { class: "columns" },
      el("div", {}, el("h2", {}, "Version"), props),
      el("div", {}, el("h2", {}, "Metadata"), kvTable(v.metadata, "no metadata"))),
    el("h2", {}, "Files"),
    files
      ? table(["Path", { label: "Size", num: true }, "Digest"], treeRows(v.reference, fileTree(files), 0, []), { class: "tree" })
      : el("p", { class: "empty" }, "a deleted version's files are not listed"),
    deleted ? null : el("h2", {}, "Diff"),
    deleted ? null : el("div", { class: "filters" }, picker),
    diffView);
}

// ---------- a file ----------

async function filePage(ref, path) {
  const url = "/api/file/" + enc(ref) + "?path=" + enc(path);
  const res = await fetch(url, { cache: "no-store" });
  let body;
  if (!res.ok) {
    const err = await res.json().catch(() => ({ error: res.statusText }));
    throw new Error(err.error);
  }
  const type = res.headers.get("Content-Type") || "";
  if (type.startsWith("image/")) {
    // The natural size, once decoded, is shown under the image (and tells a test it loaded).
    const dims = el("p", { class: "sub" });
    const img = el("img", { class: "content", src: url, alt: path, onload: () => {
      img.dataset.loaded = img.naturalWidth + "x" + img.naturalHeight;
      dims.textContent = img.naturalWidth + " × " + img.naturalHeight + " px";
    } });
    body = el("div", {}, img, dims);
  } else if (type.startsWith("text/")) {
    const text = await res.text();
    const limit = 256 * 1024;
    body = el("div", {}, el("pre", { class: "content" }, text.length > limit ? text.slice(0, limit) : text),
      text.length > limit ? el("p", { class: "empty" }, "showing the first 256 KiB") : null);
  } else {
    const bytes = (await res.arrayBuffer()).byteLength;
    body = el("p", { class: "empty" }, "binary file, " + size(bytes) + "; fetch it with `art download`");
  }
  const name = ref.split(":")[0];
  page(
    el("div", { class: "crumbs" }, el("a", { href: "#/" }, "Artifacts"), " / ", el("a", { href: link.artifact(name) }, name), " / ",
      el("a", { href: link.version(ref) }, ref), " / "),
    el("h1", { class: "mono" }, path),
    el("div", { class: "actions" }, el("a", { class: "button", href: url, download: path.split("/").pop() }, "Download")),
    body);
}

// ---------- runs ----------

async function runsPage(query) {
  const group = query.get("group") || "", job = query.get("job_type") || "", sort = query.get("sort") || "";
  const params = new URLSearchParams();
  if (group) params.set("group", group);
  if (job) params.set("job_type", job);
  if (sort) params.set("sort", sort);
  const [runs, all] = await Promise.all([api("runs?" + params), api("runs")]);
  const distinct = (f) => [...new Set(all.map(f).filter(Boolean))].sort();
  const keys = (f) => [...new Set(runs.flatMap((r) => Object.keys(f(r) || {})))].sort();
  const summaryKeys = keys((r) => r.summary), configKeys = keys((r) => r.config);
  const go = (changes) => {
    const p = new URLSearchParams({ group, job_type: job, sort, ...changes });
    for (const [k, v] of [...p.entries()]) if (!v) p.delete(k);
    location.hash = "#/runs" + (p.toString() ? "?" + p : "");
  };
  const sortable = (label, field, num) => {
    const cur = sort.replace(/^-/, "") === field;
    const desc = sort.startsWith("-");
    return {
      label: label + (cur ? (desc ? " ▼" : " ▲") : ""), num, sortable: true, sorted: cur,
      onclick: () => go({ sort: cur && !desc ? "-" + field : field }),
    };
  };
  const headers = [
    { label: "Run" }, sortable("Name", "name"), { label: "Group" }, { label: "Job type" }, sortable("Status", "status"), sortable("Started", "started"),
    ...summaryKeys.map((k) => sortable(k, "summary." + k, true)),
    ...configKeys.map((k) => sortable("config." + k, "config." + k, true)),
  ];
  const cell = (obj, k) => (obj && k in obj ? value(obj[k]) : "");
  const rows = runs.map((r) => el("tr", {},
    el("td", {}, el("a", { href: link.run(r.id), class: "mono" }, shortRun(r.id))),
    el("td", {}, r.name || "-"), el("td", {}, r.group || "-"), el("td", {}, r.job_type || "-"),
    el("td", {}, statusBadge(r.status)), el("td", {}, time(r.started_at)),
    summaryKeys.map((k) => el("td", { class: "num" }, cell(r.summary, k))),
    configKeys.map((k) => el("td", { class: "num" }, cell(r.config, k)))));
  const select = (id, label, options, current, key) => el("label", {}, label + " ",
    el("select", { id, onchange: (e) => go({ [key]: e.target.value }) },
      el("option", { value: "" }, "all"), options.map((o) => el("option", { value: o, selected: o === current }, o))));
  page(
    el("h1", {}, "Runs"),
    el("p", { class: "sub" }, runs.length + " of " + all.length + " runs · click a column to sort"),
    el("div", { class: "filters" },
      select("filter-group", "Group", distinct((r) => r.group), group, "group"),
      select("filter-job", "Job type", distinct((r) => r.job_type), job, "job_type")),
    runs.length ? table(headers, rows, { class: "runs" }) : el("p", { class: "empty" }, "no runs"));
}

async function runPage(id) {
  const r = await api("run/" + enc(id));
  const refs = (list) => list.length
    ? el("ul", {}, list.map((ref) => el("li", {}, el("a", { href: link.version(ref) }, ref))))
    : el("p", { class: "empty" }, "none");
  page(
    el("div", { class: "crumbs" }, el("a", { href: "#/runs" }, "Runs"), " / "),
    el("h1", {}, r.name || r.id, " ", statusBadge(r.status)),
    el("div", { class: "actions" }, el("a", { class: "button", href: link.lineage(r.id) }, "Lineage graph")),
    el("div", { class: "columns" },
      el("div", {}, el("h2", {}, "Run"), propsTable([
        ["id", el("code", {}, r.id)], ["name", r.name], ["group", r.group], ["job type", r.job_type],
        ["status", r.exit_code === null || r.exit_code === undefined ? r.status : r.status + " (exit " + r.exit_code + ")"],
        ["started", time(r.started_at)], ["finished", r.finished_at ? time(r.finished_at) : null]])),
      el("div", {}, el("h2", {}, "Inputs (used)"), refs(r.used), el("h2", {}, "Outputs (logged)"), refs(r.logged))),
    el("div", { class: "columns" },
      el("div", {}, el("h2", {}, "Summary"), kvTable(r.summary, "no summary metrics")),
      el("div", {}, el("h2", {}, "Config"), kvTable(r.config, "no config"))));
}

// ---------- the lineage graph ----------

const NODE_W = 200, NODE_H = 50, GAP_X = 90, GAP_Y = 26;

// A deterministic layered layout (Sugiyama style): ranks by longest path from the sources
// so data flows left to right, then a few barycenter sweeps to order each layer, ties
// broken by id so the same graph always draws the same way.
function layout(nodes, edges) {
  const ids = [...nodes.keys()].sort();
  const ins = new Map(ids.map((id) => [id, []])), outs = new Map(ids.map((id) => [id, []]));
  for (const e of edges) { outs.get(e.from).push(e.to); ins.get(e.to).push(e.from); }
  const rank = new Map(), indeg = new Map(ids.map((id) => [id, ins.get(id).length]));
  let ready = ids.filter((id) => indeg.get(id) === 0);
  for (const id of ready) rank.set(id, 0);
  while (ready.length) {
    const next = [];
    for (const id of ready) for (const t of outs.get(id)) {
      rank.set(t, Math.max(rank.get(t) || 0, rank.get(id) + 1));
      indeg.set(t, indeg.get(t) - 1);
      if (indeg.get(t) === 0) next.push(t);
    }
    ready = next.sort();
  }
  for (const id of ids) if (!rank.has(id)) rank.set(id, 0); // only on a cycle, which art refuses
  const layers = [];
  for (const id of ids) (layers[rank.get(id)] = layers[rank.get(id)] || []).push(id);
  for (let i = 0; i < layers.length; i++) layers[i] = layers[i] || [];
  const pos = new Map();
  const index = () => layers.forEach((l) => l.forEach((id, i) => pos.set(id, i)));
  index();
  const bary = (id, nb) => {
    const ps = nb.get(id).filter((n) => pos.has(n)).map((n) => pos.get(n));
    return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : pos.get(id);
  };
  for (let sweep = 0; sweep < 6; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? layers.keys() : [...layers.keys()].reverse();
    for (const li of order) {
      if ((down && li === 0) || (!down && li === layers.length - 1)) continue;
      const nb = down ? ins : outs;
      const b = new Map(layers[li].map((id) => [id, bary(id, nb)]));
      layers[li].sort((x, y) => b.get(x) - b.get(y) || (x < y ? -1 : x > y ? 1 : 0));
      layers[li].forEach((id, i) => pos.set(id, i));
    }
  }
  const tallest = Math.max(...layers.map((l) => l.length));
  const coords = new Map();
  layers.forEach((l, li) => {
    const offset = ((tallest - l.length) * (NODE_H + GAP_Y)) / 2;
    l.forEach((id, i) => coords.set(id, { x: li * (NODE_W + GAP_X), y: offset + i * (NODE_H + GAP_Y) }));
  });
  return { coords, width: layers.length * (NODE_W + GAP_X) - GAP_X, height: tallest * (NODE_H + GAP_Y) - GAP_Y };
}

function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

function nodeLabels(n) {
  if (n.kind === "version") {
    const extra = [n.type, ...(n.aliases || [])].join(" · ");
    return [n.id, n.deleted ? "deleted · " + extra : extra];
  }
  return [n.name || shortRun(n.id), ["run", n.job_type, n.status].filter(Boolean).join(" · ")];
}

// The graph being shown: nodes and edges merged from one or more /api/lineage answers.
const graph = { target: null, nodes: new Map(), edges: new Map(), root: null, selected: null, view: null };

function mergeLineage(l) {
  // Newer answers win, so a version deleted since the last poll is drawn as deleted.
  for (const n of l.nodes) graph.nodes.set(n.id, n);
  for (const e of l.edges) graph.edges.set(e.from + "\u0000" + e.to, e);
}

async function lineagePage(target, query) {
  const depth = query.get("depth") || "2";
  const l = await api("lineage/" + enc(target) + "?depth=" + enc(depth));
  if (graph.target !== target + "|" + depth) {
    graph.target = target + "|" + depth;
    graph.nodes = new Map(); graph.edges = new Map(); graph.selected = null; graph.view = null;
  }
  graph.root = l.root;
  mergeLineage(l);
  const svgEl = svg("svg", { class: "graph", id: "lineage" });
  const panel = el("div", { class: "panel", id: "panel" });
  const depthPick = el("select", { id: "depth", onchange: (e) => { location.hash = link.lineage(target) + "?depth=" + e.target.value; } },
    ["1", "2", "3", "5", "10"].map((d) => el("option", { value: d, selected: d === depth }, "depth " + d)));
  page(
    el("div", { class: "crumbs" }, el("a", { href: "#/" }, "Artifacts"), " / lineage"),
    el("h1", {}, "Lineage of ", l.root),
    el("div", { class: "filters" }, depthPick,
      el("span", { class: "button", id: "fit", onclick: () => { graph.view = null; draw(svgEl, panel); } }, "Fit"),
      el("span", { class: "button", onclick: () => zoomBy(svgEl, 1.25) }, "+"),
      el("span", { class: "button", onclick: () => zoomBy(svgEl, 0.8) }, "−")),
    el("div", { class: "graph-wrap" }, svgEl, panel),
    el("div", { class: "legend" },
      el("span", {}, el("span", { class: "swatch", style: "background:#f0fff4;border:1px solid #1a7f37" }), "version"),
      el("span", {}, el("span", { class: "swatch", style: "background:#fbefff;border:1px solid #8250df" }), "run"),
      el("span", {}, el("span", { class: "swatch", style: "background:#f6f8fa;border:1px dashed #8c959f" }), "deleted version"),
      el("span", {}, "drag to pan · wheel to zoom · click a node to expand it")));
  draw(svgEl, panel);
  enablePanZoom(svgEl);
}

function draw(svgEl, panel) {
  const { coords, width, height } = layout(graph.nodes, [...graph.edges.values()]);
  const defs = svg("defs", {},
    svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#6e7781" })));
  const world = svg("g", { id: "world" });
  for (const e of [...graph.edges.values()].sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1))) {
    const a = coords.get(e.from), b = coords.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2, mx = (x1 + x2) / 2;
    world.appendChild(svg("path", {
      class: "edge " + e.relation, "data-from": e.from, "data-to": e.to, "marker-end": "url(#arrow)",
      d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2 - 2} ${y2}`,
    }, svg("title", {}, e.from + ({ used: " used by ", logged: " logged ", linked: " linked as " }[e.relation] || " → ") + e.to)));
  }
  for (const id of [...graph.nodes.keys()].sort()) {
    const n = graph.nodes.get(id), c = coords.get(id);
    const cls = ["node", n.kind, n.deleted ? "deleted" : "", id === graph.root ? "root" : "", id === graph.selected ? "selected" : ""].filter(Boolean).join(" ");
    const [title, sub] = nodeLabels(n);
    const g = svg("g", { class: cls, "data-id": id, "data-kind": n.kind, transform: `translate(${c.x},${c.y})` },
      svg("rect", { width: NODE_W, height: NODE_H, rx: n.kind === "run" ? "24" : "6" }),
      svg("text", { class: "title", x: "12", y: "21" }, clip(title, 27)),
      svg("text", { class: "kind", x: "12", y: "38" }, clip(sub, 32)),
      svg("title", {}, title + "\n" + sub));
    g.addEventListener("click", (ev) => { ev.stopPropagation(); select(id, svgEl, panel); });
    world.appendChild(g);
  }
  svgEl.replaceChildren(defs, world);
  if (!graph.view) {
    const box = svgEl.getBoundingClientRect();
    const w = box.width || 900, h = box.height || 560, pad = 30;
    const k = Math.min(1.2, (w - 2 * pad) / Math.max(width, 1), (h - 2 * pad) / Math.max(height, 1));
    graph.view = { k, x: (w - width * k) / 2, y: (h - height * k) / 2 };
  }
  applyView(svgEl);
  showPanel(panel, svgEl);
}

function applyView(svgEl) {
  const w = svgEl.querySelector("#world");
  if (w) w.setAttribute("transform", `translate(${graph.view.x},${graph.view.y}) scale(${graph.view.k})`);
}
function zoomBy(svgEl, f, cx, cy) {
  const box = svgEl.getBoundingClientRect();
  cx = cx === undefined ? box.width / 2 : cx; cy = cy === undefined ? box.height / 2 : cy;
  const v = graph.view, k = Math.max(0.1, Math.min(4, v.k * f));
  graph.view = { k, x: cx - ((cx - v.x) * k) / v.k, y: cy - ((cy - v.y) * k) / v.k };
  applyView(svgEl);
}
function enablePanZoom(svgEl) {
  let drag = null;
  svgEl.addEventListener("wheel", (e) => {
    e.preventDefault();
    const box = svgEl.getBoundingClientRect();
    zoomBy(svgEl, e.deltaY < 0 ? 1.1 : 1 / 1.1, e.clientX - box.left, e.clientY - box.top);
  }, { passive: false });
  svgEl.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, vx: graph.view.x, vy: graph.view.y }; svgEl.classList.add("dragging"); });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    graph.view = { ...graph.view, x: drag.vx + e.clientX - drag.x, y: drag.vy + e.clientY - drag.y };
    applyView(svgEl);
  });
  window.addEventListener("mouseup", () => { drag = null; svgEl.classList.remove("dragging"); });
}

function select(id, svgEl, panel) {
  graph.selected = id;
  for (const g of svgEl.querySelectorAll(".node")) g.classList.toggle("selected", g.dataset.id === id);
  showPanel(panel, svgEl);
}

async function expand(id, direction, svgEl, panel) {
  try {
    mergeLineage(await api("lineage/" + enc(id) + "?direction=" + direction + "&depth=1"));
    draw(svgEl, panel);
  } catch (e) {
    panel.appendChild(el("p", { class: "error" }, e.message));
  }
}

function showPanel(panel, svgEl) {
  const id = graph.selected;
  if (!id || !graph.nodes.has(id)) {
    panel.replaceChildren(el("h3", {}, graph.nodes.size + " nodes, " + graph.edges.size + " edges"),
      el("p", { class: "empty" }, "click a node for details"));
    return;
  }
  const n = graph.nodes.get(id);
  const rows = n.kind === "version"
    ? [["type", n.type], ["aliases", aliasBadges(n.aliases)], ["state", n.deleted ? "deleted" : "live"]]
    : [["name", n.name], ["group", n.group], ["job type", n.job_type], ["status", statusBadge(n.status)]];
  panel.replaceChildren(
    el("h3", {}, n.kind === "version" ? id : n.name || id),
    propsTable(rows),
    el("div", {},
      el("a", { class: "button", href: n.kind === "version" ? link.version(id) : link.run(id) }, "Open"),
      el("span", { class: "button", id: "expand-up", onclick: () => expand(id, "up", svgEl, panel) }, "← Expand inputs"),
      el("span", { class: "button", id: "expand-down", onclick: () => expand(id, "down", svgEl, panel) }, "Expand outputs →"),
      el("a", { class: "button", href: link.lineage(id) }, "Center here")));
}

// ---------- live updates ----------

let seq = null;
async function poll() {
  const live = document.getElementById("live");
  try {
    const s = (await api("seq")).seq;
    if (seq !== null && s !== seq) {
      // Keep the lineage graph's own expansions and view; reload everything else.
      await render();
    }
    seq = s;
    live.textContent = "live · store change #" + s;
    live.dataset.seq = s;
  } catch (e) {
    live.textContent = "cannot reach art ui";
  }
}

render();
poll();
setInterval(poll, 2000);
