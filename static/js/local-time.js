// Every <time class="local"> (the `when` filter) is rendered in UTC; show it in this computer's time zone,
// keeping the UTC value beside it so that people in several zones can compare.
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  document.querySelectorAll("time.local").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when) || when.getTimezoneOffset() === 0) { return; }  // already right as rendered
    var local = when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" + pad(when.getDate()) + " " +
      pad(when.getHours()) + ":" + pad(when.getMinutes());
    el.title = el.textContent;
    el.textContent = local + " your time (" + el.textContent + ")";
  });
})();
