// The request form: typing an address picks "Another IP or CIDR" (the server refuses the ambiguity too),
// the justification counts its characters as they are typed, and sending the form spends the Configured tab's selection it was made from.
(function () {
  "use strict";
  var form = document.querySelector("form.request-form");
  if (!form) { return; }
  var other = form.querySelector("input[name=other_source]");
  var otherRadio = form.querySelector("input[name=source][value=other]");
  other.addEventListener("input", function () {
    if (other.value.trim()) { otherRadio.checked = true; }
  });
  var justification = form.querySelector("textarea[name=justification]");
  var counter = document.getElementById("justification-count");
  justification.addEventListener("input", function () {
    var limit = counter.getAttribute("data-limit");
    counter.textContent = justification.value.length + " of " + limit + " characters";
  });
  form.addEventListener("submit", function () {
    sessionStorage.removeItem("jitportal.selection.configured");
  });
})();
