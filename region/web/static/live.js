// Keeps the live part of a machine page current while the machine works: every 1.5 s it
// fetches the part again (server-rendered HTML) and puts it in place, until the machine is
// no longer busy. Without JavaScript the page works the same and a reload updates it.
(function () {
  "use strict";
  function start() {
    var section = document.getElementById("live");
    var body = document.getElementById("live-body");
    if (!section || !body) { return; }
    var url = section.getAttribute("data-live-url");
    function busy() {
      var live = body.querySelector(".live");
      return live && live.getAttribute("data-busy") === "true";
    }
    function poll() {
      if (!busy()) { return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var tpl = document.createElement("template");
          tpl.innerHTML = html;
          body.replaceChildren(tpl.content);
        })
        .catch(function () { /* the next poll tries again */ })
        .finally(function () { setTimeout(poll, 1500); });
    }
    setTimeout(poll, 1500);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
