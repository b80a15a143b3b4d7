// The dashboard's live parts. Every page works without this file; it only
// filters the device list as you type and follows the call journal over
// server-sent events. Everything from the server is set as text, never as
// HTML.
"use strict";

function filterRows(input) {
  const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const row of document.querySelectorAll("#devices tbody tr")) {
    const text = row.textContent.toLowerCase();
    row.hidden = !words.every((w) => text.includes(w));
  }
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// One journal entry, the same shape the server renders.
function journalItem(entry) {
  const li = el("li", "fresh");
  li.dataset.seq = entry.seq;
  const details = el("details");
  const summary = el("summary");
  // A web UI request is named by its method and path (and form action).
  const call = entry.kind === "web"
    ? [entry.method, entry.path].join(" ") + (entry.form_action ? " (" + entry.form_action + ")" : "")
    : [entry.class, entry.operation || (entry.action || "").split("/").pop()]
      .filter(Boolean).join(".");
  const bad = entry.http_status >= 400 || entry.fault || entry.injected;
  summary.append(el("span", "mono", "#" + entry.seq), el("span", "muted", entry.time));
  if (entry.kind) summary.append(el("span", "kind kind-" + entry.kind, entry.kind));
  summary.append(
    el("span", "", entry.user || "(anonymous)"),
    el("strong", "", call || "(unparsed)"),
    el("span", bad ? "status-bad" : "status-ok",
      String(entry.http_status) + (entry.fault ? " " + entry.fault : "")),
  );
  if (entry.form_result) summary.append(el("span", "muted", entry.form_result));
  if (entry.injected) summary.append(el("span", "status-bad", "injected: " + entry.injected));
  summary.append(el("span", "muted", entry.duration_ms.toFixed(1) + " ms"));
  details.append(summary);
  details.append(el("div", "muted", "request"), el("pre", "", entry.request_body || "(not kept)"));
  details.append(el("div", "muted", "response"), el("pre", "", entry.response_body || "(not kept)"));
  li.append(details);
  return li;
}

function followJournal(list) {
  const url = list.dataset.stream;
  const status = document.getElementById("live");
  const source = new EventSource(url);
  source.onopen = () => { if (status) { status.textContent = "live"; status.classList.add("on"); } };
  source.onerror = () => { if (status) { status.textContent = "reconnecting"; status.classList.remove("on"); } };
  source.addEventListener("journal", (ev) => {
    let entry;
    try { entry = JSON.parse(ev.data); } catch (_) { return; }
    if (list.querySelector('li[data-seq="' + Number(entry.seq) + '"]')) return;
    const empty = list.querySelector("li.empty");
    if (empty) empty.remove();
    list.prepend(journalItem(entry));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const search = document.querySelector("#devices-filter input[name=q]");
  if (search) {
    search.addEventListener("input", () => filterRows(search));
  }
  const journal = document.getElementById("journal");
  if (journal && journal.dataset.stream && window.EventSource) followJournal(journal);
});
