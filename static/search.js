// Search as you type: after a short pause, fetch the results fragment and swap it in.
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  var box = document.getElementById("search-q");
  var target = document.getElementById("search-results");
  if (!form || !box || !target) return;
  var timer = null;
  var latest = 0;

  function refresh() {
    var params = new URLSearchParams(new FormData(form));
    var query = params.toString();
    var ticket = ++latest;
    params.set("partial", "1");
    fetch(form.action + "?" + params.toString(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (ticket !== latest) return; // an older answer arriving late
        target.innerHTML = html;
        history.replaceState(null, "", form.action + (query ? "?" + query : ""));
      })
      .catch(function () { /* the form still works without script */ });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  box.addEventListener("input", later);
  form.addEventListener("change", later);
})();
