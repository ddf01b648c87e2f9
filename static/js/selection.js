// Keeps the rows a person ticked across pages, sorts and filters, per tab, for this browser tab only.
// Ticked rows that this page does not show are named beside the counter, and every bulk action lists
// exactly what it acts on before it acts. A page that reports an action's outcome carries
// data-clear-selection="<tab>": the selection it acted on is spent.
(function () {
  "use strict";
  var PREFIX = "jitportal.selection.";
  document.querySelectorAll("[data-clear-selection]").forEach(function (marker) {
    sessionStorage.removeItem(PREFIX + marker.dataset.clearSelection);
  });
  var bar = document.querySelector(".selection");
  if (!bar) { return; }
  var key = PREFIX + bar.dataset.tab;
  var chosen = new Set(JSON.parse(sessionStorage.getItem(key) || "[]"));
  var boxes = Array.from(document.querySelectorAll("input.pick"));
  var count = bar.querySelector(".selection-count");
  var elsewhere = bar.querySelector(".selection-elsewhere");
  function vmName(id) { return id.split("/").pop(); }
  function save() {
    sessionStorage.setItem(key, JSON.stringify(Array.from(chosen)));
    count.textContent = chosen.size + " selected";
    var shown = new Set(boxes.map(function (box) { return box.value; }));
    var hidden = Array.from(chosen).filter(function (id) { return !shown.has(id); });
    elsewhere.hidden = hidden.length === 0;
    elsewhere.textContent = hidden.length ? "Also selected, not shown on this page: " + hidden.map(vmName).join(", ") : "";
    document.querySelectorAll("form[data-selection] .picked").forEach(function (holder) {
      holder.replaceChildren.apply(holder, Array.from(chosen).map(function (id) {
        var input = document.createElement("input");
        input.type = "hidden"; input.name = "vm"; input.value = id;
        return input;
      }));
    });
    document.querySelectorAll("form[data-selection] button[type=submit]").forEach(function (b) {
      b.disabled = chosen.size === 0;
    });
  }
  boxes.forEach(function (box) {
    box.checked = chosen.has(box.value);
    box.addEventListener("change", function () {
      if (box.checked) { chosen.add(box.value); } else { chosen.delete(box.value); }
      save();
    });
  });
  bar.querySelector(".selection-page").addEventListener("click", function () {
    boxes.forEach(function (box) { box.checked = true; chosen.add(box.value); });
    save();
  });
  bar.querySelector(".selection-clear").addEventListener("click", function () {
    chosen.clear();
    boxes.forEach(function (box) { box.checked = false; });
    save();
  });
  save();
})();
