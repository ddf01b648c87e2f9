// The Edit form says, before it is saved, which of the VM's ports the save takes away: a port whose row is
// ticked Remove, emptied, or renumbered. The ports the VM has are on the summary's data-ports.
(function () {
  "use strict";
  var summary = document.querySelector(".removal-summary");
  if (!summary) { return; }
  var form = summary.closest("form");
  var had = summary.dataset.ports.split(" ").filter(Boolean);
  function kept() {
    var numbers = new Set();
    form.querySelectorAll("input[name$='-number']").forEach(function (input) {
      var remove = form.querySelector("input[name='" + input.name.replace(/-number$/, "-DELETE") + "']");
      if (input.value.trim() && !(remove && remove.checked)) { numbers.add(input.value.trim()); }
    });
    return numbers;
  }
  function update() {
    var now = kept();
    var gone = had.filter(function (port) { return !now.has(port); });
    summary.hidden = gone.length === 0;
    summary.textContent = gone.length === 0 ? "" : "Saving removes port" + (gone.length > 1 ? "s " : " ") +
      gone.join(", ") + " from " + summary.dataset.vm + ": JIT will no longer open " +
      (gone.length > 1 ? "them" : "it") + " on request.";
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
