// On a phone a wide table would hide its right-hand columns behind a sideways scroll (My access' Connect column,
// the Enable and Edit port rows). Each cell gets its column's name in data-label, and the table the class
// "cards": at phone width the CSS shows every row as a card of "name: value" lines, so that nothing is off-screen.
// The audit's wide event tables keep their own scroll box (a card per event would be a page per screen).
(function () {
  "use strict";
  document.querySelectorAll("table.plain:not(.events), table.ports").forEach(function (table) {
    var headers = Array.from(table.querySelectorAll("thead th")).map(function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      var column = 0;
      Array.from(row.cells).forEach(function (cell) {
        var span = cell.colSpan || 1;
        if (span === 1 && headers[column]) { cell.dataset.label = headers[column]; }
        column += span;
      });
    });
    table.classList.add("cards");
  });
})();
