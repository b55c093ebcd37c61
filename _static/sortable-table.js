// Click a column header of a `table.sortable` to sort by it (again to reverse); type in the
// box above the table to filter its rows. No dependencies, so the book works offline.
// Cells of class `lang-zh` sort by pinyin where the browser's Intl supports it.
(function () {
  "use strict";

  function cellText(row, col) {
    return row.cells[col] ? row.cells[col].textContent.trim() : "";
  }

  function makeSortable(table) {
    const body = table.tBodies[0];
    const headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.from(headers).forEach(function (th, col) {
      th.setAttribute("role", "button");
      th.setAttribute("tabindex", "0");
      th.setAttribute("aria-sort", "none");
      th.title = "Sort by this column";
      th.style.cursor = "pointer";
      const sort = function () {
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        const firstCell = body.rows[0] && body.rows[0].cells[col];
        const chinese = firstCell && firstCell.classList.contains("lang-zh");
        const collator = new Intl.Collator(chinese ? "zh-Hans-u-co-pinyin" : undefined,
                                           { sensitivity: "base", numeric: true });
        const rows = Array.from(body.rows);
        rows.sort(function (a, b) {
          const order = collator.compare(cellText(a, col), cellText(b, col));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        Array.from(headers).forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });

    const filter = document.createElement("input");
    filter.type = "search";
    filter.placeholder = "Filter terms (English or 中文)";
    filter.setAttribute("aria-label", "Filter the table");
    filter.className = "sortable-filter";
    filter.style.cssText = "width: 100%; margin-bottom: 0.5em; padding: 0.3em;";
    filter.addEventListener("input", function () {
      const needle = filter.value.trim().toLowerCase();
      Array.from(body.rows).forEach(function (row) {
        row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
      });
    });
    table.parentNode.insertBefore(filter, table);
  }

  function init() {
    document.querySelectorAll("table.sortable").forEach(makeSortable);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
