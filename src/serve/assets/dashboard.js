// The dashboard: one event stream per feed (GET /api/feeds/NAME/events), the pipeline's
// health from /metrics every few seconds. No dependencies beyond the vendored uPlot.
"use strict";

const text = (value) => document.createTextNode(value == null ? "–" : String(value));

// `data` names each row for scripts and tests: data-KEY="value".
function table(columns, rows, data) {
  const t = document.createElement("table");
  const head = t.createTHead().insertRow();
  for (const c of columns) {
    const th = document.createElement("th");
    th.appendChild(text(c.label));
    head.appendChild(th);
  }
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    if (data) tr.dataset[data.key] = data.value(row);
    for (const c of columns) {
      const td = tr.insertCell();
      if (c.numeric) td.className = "n";
      const value = c.value(row);
      if (value instanceof Node) td.appendChild(value); else td.appendChild(text(value));
    }
  }
  return t;
}

function change(row) {
  const span = document.createElement("span");
  if (row.rank_change == null) { span.textContent = "new"; return span; }
  span.textContent = row.rank_change > 0 ? "▲" + row.rank_change : row.rank_change < 0 ? "▼" + -row.rank_change : "=";
  span.className = row.rank_change > 0 ? "up" : row.rank_change < 0 ? "down" : "";
  return span;
}

function bar(value, max) {
  const div = document.createElement("div");
  div.className = "bar";
  div.style.width = (max > 0 ? Math.max(2, 100 * value / max) : 0) + "%";
  return div;
}

function ranked(rows, key, name, id) {
  const root = document.createElement("div");
  for (const span of ["1h", "24h"]) {
    const these = rows.filter((r) => r.span === span);
    const max = Math.max(0, ...these.map((r) => r.plays));
    const h = document.createElement("h3");
    h.style.cssText = "font-size:.85rem;margin:.5rem 0 .25rem";
    h.textContent = span === "1h" ? "Last hour" : "Last 24 hours";
    root.append(h, table([
      { label: "#", numeric: true, value: (r) => r.rank },
      { label: key, value: (r) => r[name] || r[id] },
      { label: "plays", numeric: true, value: (r) => r.plays },
      { label: "", value: (r) => bar(r.plays, max) },
      { label: "vs before", value: change },
    ], these, { key, value: (r) => r[id] }));
  }
  return root;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const renderers = {
  top_tracks: (rows) => ranked(rows, "track", "track_name", "track_id"),
  top_artists: (rows) => ranked(rows, "artist", "artist_name", "artist_id"),
  rising_tracks: (rows) => table([
    { label: "track", value: (r) => r.track_name || r.track_id },
    { label: "plays", numeric: true, value: (r) => r.plays },
    { label: "adds", numeric: true, value: (r) => r.additions },
    { label: "rise", numeric: true, value: (r) => "+" + r.rise },
  ], rows.slice(0, 10)),
  playlist_churn: (rows) => table([
    { label: "playlist", value: (r) => r.playlist_name || r.playlist_id },
    { label: "adds", numeric: true, value: (r) => r.adds },
    { label: "removes", numeric: true, value: (r) => r.removes },
    { label: "moves", numeric: true, value: (r) => r.moves },
  ], rows.slice(0, 10)),
  listening_clock: (rows) => {
    const max = Math.max(0, ...rows.map((r) => r.plays));
    return table([
      { label: "day", value: (r) => WEEKDAYS[r.weekday] },
      { label: "hour", numeric: true, value: (r) => r.hour },
      { label: "plays", numeric: true, value: (r) => r.plays },
      { label: "", value: (r) => bar(r.plays, max) },
    ], rows);
  },
  new_releases: (rows) => table([
    { label: "album", value: (r) => r.album_name || r.album_id },
    { label: "type", value: (r) => r.album_type },
    { label: "released", value: (r) => r.release_date },
  ], rows.slice(0, 10)),
};

let timelineChart = null;
function renderTimeline(rows) {
  const xs = rows.map((r) => Date.parse(r.bin_start) / 1000);
  const ys = rows.map((r) => r.plays);
  const el = document.getElementById("timeline-chart");
  const width = Math.max(280, el.clientWidth || 360);
  if (!timelineChart) {
    timelineChart = new uPlot({
      width, height: 200,
      // The last 24 hours up to the newest bin, however few bins there are yet.
      scales: { x: { time: true, range: (u, min, max) => [max - 86400, max + 300] } },
      series: [{}, { label: "plays", stroke: "#4c6ef5", fill: "#4c6ef522" }],
      axes: [{}, { size: 40 }],
    }, [xs, ys], el);
  } else {
    timelineChart.setData([xs, ys]);
  }
}

const seen = {};
function show(name, feed) {
  seen[name] = feed;
  if (name === "play_timeline") { renderTimeline(feed.rows); return; }
  const el = document.getElementById(name);
  const render = renderers[name];
  if (!el || !render) return;
  el.replaceChildren(render(feed.rows));
  el.dataset.version = feed.version;
  document.getElementById("status").textContent = "updated " + new Date(feed.as_of).toLocaleTimeString() +
    ", data up to " + (feed.watermark ? new Date(feed.watermark).toLocaleTimeString() : "–");
}

function follow(name) {
  const source = new EventSource("/api/feeds/" + encodeURIComponent(name) + "/events");
  source.addEventListener("refresh", (event) => show(name, JSON.parse(event.data)));
  source.onerror = () => { document.getElementById("status").textContent = "reconnecting…"; };
}

// Samples summed by name, and the labelled ones kept apart: {sums, series: [{name, labels, value}]}.
function parseMetrics(body) {
  const sums = {};
  const series = [];
  for (const line of body.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/);
    if (!match) continue;
    const value = Number(match[3]);
    sums[match[1]] = (sums[match[1]] || 0) + value;
    if (match[2]) {
      const labels = Object.fromEntries([...match[2].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      series.push({ name: match[1], labels, value });
    }
  }
  return { sums, series };
}

const ago = (seconds) => seconds > 0 ? Math.max(0, Math.round(Date.now() / 1000 - seconds)) + " s ago" : "–";

let previous = null;
async function health() {
  try {
    const response = await fetch("/metrics");
    const now = Date.now();
    const { sums: m, series } = parseMetrics(await response.text());
    const rate = (key) => previous && now > previous.at ? ((m[key] || 0) - (previous.m[key] || 0)) * 1000 / (now - previous.at) : null;
    const mean = (name) => {
      const count = (m[name + "_count"] || 0) - ((previous && previous.m[name + "_count"]) || 0);
      const sum = (m[name + "_sum"] || 0) - ((previous && previous.m[name + "_sum"]) || 0);
      return count > 0 ? (sum / count).toFixed(2) + " s" : null;
    };
    const until = m.tunestream_api_circuit_open_until_timestamp_seconds || 0;
    const items = [
      ["pages/s", rate("tunestream_pages_total")?.toFixed(1)],
      ["rows/s", rate("tunestream_rows_total")?.toFixed(1)],
      ["rejected lines", m.tunestream_rejected_lines_total],
      ["API requests (24 h)", `${m.tunestream_api_budget_used ?? "–"} of ${m.tunestream_api_budget ?? "–"}`],
      ["429s", m.tunestream_api_rate_limited_total],
      ["circuit", until > 0 ? "open until " + new Date(until * 1000).toLocaleTimeString() : "closed"],
      ["fetch → feed", mean("tunestream_fetch_to_feed_seconds")],
      ["rows held by feeds", m.tunestream_feed_retained_rows],
    ];
    for (const s of series.filter((s) => s.name === "tunestream_last_commit_timestamp_seconds")) {
      items.push(["last commit: " + s.labels.table, ago(s.value)]);
    }
    previous = { at: now, m };
    const list = document.getElementById("health-list");
    list.replaceChildren(...items.flatMap(([k, v]) => {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v == null ? "–" : v;
      return [dt, dd];
    }));
  } catch (e) {
    document.getElementById("status").textContent = "metrics unavailable";
  }
}

async function start() {
  const response = await fetch("/api/feeds");
  const listing = await response.json();
  const names = new Set(listing.feeds.map((f) => f.name));
  for (const name of ["play_timeline", ...Object.keys(renderers)]) {
    if (names.has(name) || listing.version === 0) follow(name);
  }
  health();
  setInterval(health, 2000);
}

start();
