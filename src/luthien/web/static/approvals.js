// The pending-approvals badge in the navigation (every page), and the live list on /ui/approvals.
// Both follow the live event stream: an `approval.pending` or `approval.decided` event refreshes them.
(function () {
  "use strict";
  var REFRESH_TYPES = ["approval.pending", "approval.decided"];

  function setCount(count) {
    var badge = document.getElementById("approvals-count");
    if (!badge) return;
    badge.textContent = String(count);
    badge.hidden = count === 0;
    var total = document.getElementById("approvals-total");
    if (total) total.textContent = count + " pending";
  }

  function refreshCount() {
    return fetch("/api/approvals", { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) { if (body) setCount(body.items.length); })
      .catch(function () { /* offline: the next event retries */ });
  }

  // Swap the list for the server's current one, keeping reasons being typed.
  function refreshList() {
    var list = document.getElementById("approvals-list");
    if (!list) return;
    fetch("/ui/approvals", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("approvals-list");
        if (!fresh) return;
        var typed = {};
        var inputs = list.querySelectorAll("article[data-approval] input.reason");
        for (var i = 0; i < inputs.length; i++) {
          typed[inputs[i].closest("article").getAttribute("data-approval")] = inputs[i].value;
        }
        var focused = document.activeElement && document.activeElement.closest
          ? document.activeElement.closest("article[data-approval]") : null;
        var focusedId = focused ? focused.getAttribute("data-approval") : null;
        list.replaceChildren.apply(list, Array.prototype.slice.call(fresh.childNodes));
        var again = list.querySelectorAll("article[data-approval]");
        for (var j = 0; j < again.length; j++) {
          var id = again[j].getAttribute("data-approval");
          var input = again[j].querySelector("input.reason");
          if (input && typed[id]) input.value = typed[id];
          if (input && id === focusedId) input.focus();
        }
        if (window.Luthien) window.Luthien.localizeTimes(list);
        list.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* offline: the next event retries */ });
  }

  function follow() {
    if (!window.EventSource) return;
    // Only the approval events: the server filters the feed (`event_types` of approval events).
    var source = new EventSource("/api/activity/stream?event_type=approval");
    var onEvent = function () { refreshCount(); refreshList(); };
    for (var i = 0; i < REFRESH_TYPES.length; i++) source.addEventListener(REFRESH_TYPES[i], onEvent);
    source.addEventListener("open", onEvent);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.getElementById("approvals-count")) return;
    refreshCount();
    follow();
  });
})();
