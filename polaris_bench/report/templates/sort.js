/* Sortable tables: a click on a column header sorts the rows by the cells' data-sort
   values (numbers as numbers, missing values last); a second click reverses. */
(function () {
  "use strict";
  function value(cell) {
    var v = cell ? cell.getAttribute("data-sort") : null;
    if (v === null || v === "") { return null; }
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function compare(x, y) {
    if (typeof x !== typeof y) { x = String(x); y = String(y); }
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  function sortBy(table, col, th) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a.cells[col]), y = value(b.cells[col]);
      if (x === null || y === null) { return (x === null) - (y === null); }
      return sign * compare(x, y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      var button = th.querySelector("button.sort");
      if (button) { button.addEventListener("click", function () { sortBy(table, col, th); }); }
    });
  });
}());
