// Longhaul viewer: theme, keyboard, tabs, confirmations, live refresh, file previews.
// Loaded as a file (the CSP allows no inline script). Never inserts model output as HTML:
// live text goes in with textContent; previews are server-rendered, escaped fragments.
"use strict";
(function () {
  const root = document.documentElement;
  const saved = localStorage.getItem("longhaul-theme");
  if (saved) root.dataset.theme = saved;

  function toggleTheme() {
    const dark = root.dataset.theme ? root.dataset.theme === "dark"
      : matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    localStorage.setItem("longhaul-theme", root.dataset.theme);
  }

  const ICONS = { queued: "◷", submitting: "↗", in_progress: "▶", cancelling: "⏹", finalizing: "⤓",
    completed: "✓", failed: "✕", cancelled: "⊘", incomplete: "◐" };
  const ACTIVE = new Set(["queued", "submitting", "in_progress", "cancelling", "finalizing"]);

  function setChip(container, status) {
    const chip = document.createElement("span");
    chip.className = "chip s-" + status;
    chip.textContent = (ICONS[status] || "•") + " " + status;
    container.replaceChildren(chip);
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(url + ": " + response.status);
    return response.json();
  }

  // Jobs list: refresh the running rows in place.
  function liveRows(table) {
    const note = document.getElementById("live-note");
    async function tick() {
      const ids = [...table.querySelectorAll("tr[data-active]")].map((tr) => tr.dataset.id);
      if (!ids.length) { if (note) note.textContent = ""; return; }
      try {
        const body = await getJSON(table.dataset.rowsUrl + "?ids=" + encodeURIComponent(ids.join(",")));
        for (const row of body.data) {
          const tr = table.querySelector('tr[data-id="' + CSS.escape(row.id) + '"]');
          if (!tr) continue;
          setChip(tr.querySelector('[data-cell="status"]'), row.status);
          for (const key of ["duration", "cost", "files", "webhook"]) {
            const cell = tr.querySelector('[data-cell="' + key + '"]');
            if (cell) cell.textContent = row[key];
          }
          if (!row.active) delete tr.dataset.active;
        }
        if (note) note.textContent = "Live: " + ids.length + " running job(s), updated " + new Date().toLocaleTimeString();
      } catch (err) { if (note) note.textContent = "Live refresh paused: " + err.message; }
      setTimeout(tick, 2000);
    }
    setTimeout(tick, 1000);
  }

  // Job page: poll the job's live view while it runs; reload once it is finished.
  function liveJob(section) {
    const line = document.getElementById("live-line");
    const text = document.getElementById("live-text");
    async function tick() {
      try {
        const v = await getJSON(section.dataset.liveUrl);
        setChip(document.getElementById("live-status"), v.status);
        document.getElementById("live-polls").textContent = v.poll_count;
        document.getElementById("live-elapsed").textContent = v.elapsed;
        const progress = v.progress || {};
        const shown = [progress.reasoning_summary, progress.output_text || v.output_text].filter(Boolean).join("\n\n");
        if (shown) { text.textContent = shown; text.parentElement.hidden = false; }
        const last = progress.last_event_at || v.updated_at;
        const quiet = last ? Math.round((Date.now() - Date.parse(last)) / 1000) : null;
        const calls = progress.tool_calls_started
          ? " · tool calls " + progress.tool_calls_finished + "/" + progress.tool_calls_started + " done" : "";
        const events = progress.events ? " · " + progress.events + " stream events" : "";
        line.textContent = "Live: " + v.status + (v.upstream_status ? " (upstream " + v.upstream_status + ")" : "")
          + " · polls " + v.poll_count + events + calls
          + (quiet !== null ? " · last change " + quiet + "s ago" : "")
          + (quiet !== null && quiet > 600 ? " (quiet for over 10 minutes)" : "")
          + " · checked " + new Date().toLocaleTimeString();
        if (!v.active) { line.textContent = "Finished (" + v.status + "): loading the result…"; location.reload(); return; }
      } catch (err) { line.textContent = "Live refresh paused: " + err.message; }
      setTimeout(tick, 1500);
    }
    setTimeout(tick, 1000);
  }

  function tabs() {
    const links = [...document.querySelectorAll(".tabs [data-tab]")];
    async function loadRaw() {
      const pre = document.getElementById("raw-json");
      if (!pre || pre.dataset.loaded) return;
      pre.dataset.loaded = "1";
      try {
        const r = await fetch(pre.dataset.src, { credentials: "same-origin" });
        if (!r.ok) throw new Error(String(r.status));
        pre.textContent = await r.text();
      } catch (err) { pre.textContent = "Could not load the JSON: " + err.message; }
    }
    function show(key, push) {
      for (const a of links) a.setAttribute("aria-selected", String(a.dataset.tab === key));
      for (const s of document.querySelectorAll("section.tab")) s.hidden = s.id !== "tab-" + key;
      if (push) history.replaceState(null, "", "?tab=" + key);
      if (key === "raw") loadRaw();
    }
    const current = links.find((a) => a.getAttribute("aria-selected") === "true");
    if (current && current.dataset.tab === "raw") loadRaw();
    for (const a of links) a.addEventListener("click", (e) => { e.preventDefault(); show(a.dataset.tab, true); });
    return { links, show };
  }

  function previews() {
    for (const d of document.querySelectorAll("details[data-preview]")) {
      d.addEventListener("toggle", async () => {
        if (!d.open || d.dataset.loaded) return;
        d.dataset.loaded = "1";
        const body = d.querySelector(".preview-body");
        try {
          const r = await fetch(d.dataset.preview, { credentials: "same-origin" });
          const html = await r.text();
          // A server-rendered fragment in which every byte of the file is escaped.
          const doc = new DOMParser().parseFromString(html, "text/html");
          body.replaceChildren(...doc.body.childNodes);
          body.classList.remove("muted");
        } catch (err) { body.textContent = "Preview failed: " + err.message; }
      });
    }
  }

  function confirmations() {
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (e) => { if (!confirm(form.dataset.confirm)) e.preventDefault(); });
    }
  }

  function keyboard(tabControl) {
    const table = document.getElementById("jobs");
    const rows = table ? [...table.querySelectorAll("tbody tr[data-id]")] : [];
    let current = -1;
    function select(i) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach((r, n) => r.classList.toggle("selected", n === current));
      rows[current].focus();
    }
    document.addEventListener("keydown", (e) => {
      const t = e.target;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) {
        if (e.key === "Escape") t.blur();
        return;
      }
      const rel = (name) => document.querySelector('a[rel="' + name + '"]');
      if (e.key === "t") toggleTheme();
      else if (e.key === "j" && rows.length) select(current + 1);
      else if (e.key === "k" && rows.length) select(current - 1);
      else if (e.key === "Enter" && current >= 0) location.href = rows[current].querySelector("a").href;
      else if (e.key === "/" && document.getElementById("q")) { e.preventDefault(); document.getElementById("q").focus(); }
      else if (e.key === "[" && rel("prev")) location.href = rel("prev").href;
      else if (e.key === "]" && rel("next")) location.href = rel("next").href;
      else if (e.key === "Escape" && document.querySelector(".tabs")) location.href = "/ui/jobs";
      else if (/^[1-9]$/.test(e.key) && tabControl.links[+e.key - 1]) tabControl.show(tabControl.links[+e.key - 1].dataset.tab, true);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("theme-toggle");
    if (button) button.addEventListener("click", toggleTheme);
    const table = document.getElementById("jobs");
    if (table) liveRows(table);
    const live = document.getElementById("live");
    if (live && live.dataset.active) liveJob(live);
    const tabControl = tabs();
    previews();
    confirmations();
    keyboard(tabControl);
  });
})();
