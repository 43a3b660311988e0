/* Overview table: sorting, filtering, selection for compare, delete confirmation. */
"use strict";

(function () {
  const table = document.getElementById("experiments");
  const filter = document.getElementById("filter");
  const onlyBookmarked = document.getElementById("only-bookmarked");
  const onlyRunning = document.getElementById("only-running");
  const shown = document.getElementById("shown");
  const compareBtn = document.getElementById("compare-selected");
  if (!table) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.forEach(r => { r.dataset.text = r.textContent.toLowerCase().replace(/\s+/g, " "); });

  function cellValue(row, idx) {
    const cell = row.cells[idx];
    return cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
  }

  function sortBy(th) {
    const idx = th.cellIndex, numeric = th.dataset.type === "num";
    const dir = th.dataset.dir === "asc" ? "desc" : "asc";
    table.querySelectorAll("th").forEach(h => { delete h.dataset.dir; });
    th.dataset.dir = dir;
    const sign = dir === "asc" ? 1 : -1;
    const keyed = rows.map(r => [cellValue(r, idx), r]);
    keyed.sort((a, b) => {
      if (numeric) {
        const ea = a[0] === "", eb = b[0] === "";
        if (ea || eb) return ea === eb ? 0 : (ea ? 1 : -1);  /* empty cells last */
        return sign * (parseFloat(a[0]) - parseFloat(b[0]));
      }
      return sign * a[0].localeCompare(b[0]);
    });
    keyed.forEach(([, r]) => body.appendChild(r));
  }

  function applyFilter() {
    const terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    let n = 0;
    rows.forEach(r => {
      const ok = terms.every(t => r.dataset.text.includes(t))
        && (!onlyBookmarked.checked || r.dataset.bookmarked === "1")
        && (!onlyRunning.checked || r.dataset.running === "1");
      r.hidden = !ok;
      n += ok ? 1 : 0;
    });
    shown.textContent = `${n} of ${rows.length} experiments`;
    table.dataset.shown = String(n);
  }

  function picked() {
    return Array.from(body.querySelectorAll("input.pick:checked")).map(c => c.value);
  }

  function updateCompare() {
    const ids = picked();
    compareBtn.disabled = ids.length === 0;
    compareBtn.textContent = ids.length ? `Compare selected (${ids.length})` : "Compare selected";
  }

  table.querySelectorAll("th:not(.nosort)").forEach(th => th.addEventListener("click", () => sortBy(th)));
  [filter, onlyBookmarked, onlyRunning].forEach(el => el.addEventListener("input", applyFilter));
  body.addEventListener("change", e => { if (e.target.classList.contains("pick")) updateCompare(); });
  document.getElementById("select-all").addEventListener("change", e => {
    rows.forEach(r => { if (!r.hidden) r.querySelector("input.pick").checked = e.target.checked; });
    updateCompare();
  });
  const groupsBtn = document.getElementById("compare-groups");
  if (groupsBtn) groupsBtn.addEventListener("click", () => {
    const shownGroups = Array.from(new Set(rows.filter(r => !r.hidden && r.dataset.group).map(r => r.dataset.group)));
    window.location.href = groupsBtn.dataset.url + "?groups=" + encodeURIComponent(shownGroups.join("|"));
  });
  compareBtn.addEventListener("click", () => {
    window.location.href = compareBtn.dataset.url + "?ids=" + encodeURIComponent(picked().join(","));
  });
  body.querySelectorAll("form.delete").forEach(form => form.addEventListener("submit", e => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  }));
  applyFilter();
  table.dataset.rows = String(rows.length);
})();
