// Live countdowns (local times are static/js/local-time.js's). Time left is measured against Azure's clock as the page was
// rendered (data-azure-now), so a wrong clock on this computer does not skew it.
(function () {
  "use strict";
  var table = document.querySelector("[data-azure-now]");
  var offset = table ? Date.parse(table.dataset.azureNow) - Date.now() : 0;
  var timers = document.querySelectorAll(".countdown");
  function tick() {
    timers.forEach(function (el) {
      var left = Math.max(0, Math.round((Date.parse(el.dataset.end) - (Date.now() + offset)) / 1000));
      var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      el.textContent = left === 0 ? "expired" : (h ? h + " h " : "") + m + " min " + (h ? "" : s + " s");
    });
  }
  if (timers.length) { tick(); setInterval(tick, 1000); }
})();
