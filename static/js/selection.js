// Keeps the rows a person ticked across pages and sorts, per tab, for this browser tab only.
(function () {
  "use strict";
  var bar = document.querySelector(".selection");
  if (!bar) { return; }
  var key = "jitportal.selection." + bar.dataset.tab;
  var chosen = new Set(JSON.parse(sessionStorage.getItem(key) || "[]"));
  var count = bar.querySelector(".selection-count");
  function save() {
    sessionStorage.setItem(key, JSON.stringify(Array.from(chosen)));
    count.textContent = chosen.size + " selected";
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
  document.querySelectorAll("input.pick").forEach(function (box) {
    box.checked = chosen.has(box.value);
    box.addEventListener("change", function () {
      if (box.checked) { chosen.add(box.value); } else { chosen.delete(box.value); }
      save();
    });
  });
  bar.querySelector(".selection-clear").addEventListener("click", function () {
    chosen.clear();
    document.querySelectorAll("input.pick").forEach(function (box) { box.checked = false; });
    save();
  });
  save();
})();
