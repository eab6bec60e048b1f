// The console's own behaviour: confirmation before a form marked data-confirm is sent, and
// times shown in the browser's zone (the UTC time stays in the title, shown on hover).
"use strict";

document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

function showLocalTimes(root) {
  var times = root.querySelectorAll("time[datetime]");
  for (var i = 0; i < times.length; i++) {
    var when = new Date(times[i].getAttribute("datetime"));
    if (!isNaN(when.getTime())) {
      times[i].textContent = when.toLocaleString();
    }
  }
}

document.addEventListener("DOMContentLoaded", function () {
  showLocalTimes(document);
});
document.addEventListener("htmx:afterSwap", function (event) {
  showLocalTimes(event.target);
});
