// The console's own behaviour: confirmation before a form marked data-confirm is sent, times
// shown in the browser's zone (the UTC time stays in the title, shown on hover), and a
// timeline marked data-follow that stays at its newest message until the reader scrolls up.
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
  var list = timeline();
  if (list) {
    list.scrollTop = list.scrollHeight;
  }
});
document.addEventListener("htmx:afterSwap", function (event) {
  showLocalTimes(event.target);
});

// Following a timeline: the live part is fetched again on each event and replaces the list,
// so its scroll position is carried over here. At the bottom, it follows the newest message;
// scrolled up, it stays where the reader is and offers a button back to the newest.
var following = true;

function timeline() {
  return document.querySelector("[data-follow]");
}

function atBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 8;
}

function showFollowButton(show) {
  var button = document.getElementById("follow-latest");
  if (button) {
    button.hidden = !show;
  }
}

var kept = 0;
document.addEventListener("htmx:beforeSwap", function () {
  var list = timeline();
  if (list) {
    following = atBottom(list);
    kept = list.scrollTop;
  }
});
document.addEventListener("htmx:afterSwap", function () {
  var list = timeline();
  if (!list) {
    return;
  }
  if (following) {
    list.scrollTop = list.scrollHeight;
  } else {
    list.scrollTop = kept;
    showFollowButton(!atBottom(list));
  }
});
document.addEventListener(
  "scroll",
  function (event) {
    var list = timeline();
    if (list && event.target === list) {
      following = atBottom(list);
      if (following) {
        showFollowButton(false);
      }
    }
  },
  true
);
document.addEventListener("click", function (event) {
  if (event.target && event.target.id === "follow-latest") {
    var list = timeline();
    if (list) {
      following = true;
      list.scrollTop = list.scrollHeight;
      showFollowButton(false);
      list.focus();
    }
  }
});
