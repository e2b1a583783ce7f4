// Shared page behaviour: theme toggle, local times, "changed lines only" toggles.
(function () {
  "use strict";
  var THEME_KEY = "luthien-theme";

  function currentTheme() {
    var explicit = document.documentElement.getAttribute("data-theme");
    if (explicit) return explicit;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function setupThemeToggle() {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    var update = function () {
      var theme = currentTheme();
      button.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
      button.title = theme === "dark" ? "Switch to the light theme" : "Switch to the dark theme";
    };
    button.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      try { window.localStorage.setItem(THEME_KEY, next); } catch (e) { /* storage disabled */ }
      update();
    });
    update();
  }

  var timeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
  });

  function localizeTimes(root) {
    var nodes = (root || document).querySelectorAll("time[data-local]");
    for (var i = 0; i < nodes.length; i++) {
      var when = new Date(nodes[i].getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        nodes[i].title = nodes[i].textContent;
        nodes[i].textContent = timeFormat.format(when);
      }
    }
  }

  function setupChangedOnly() {
    var toggles = document.querySelectorAll("input.only-changes");
    for (var i = 0; i < toggles.length; i++) {
      toggles[i].addEventListener("change", function (event) {
        var target = document.getElementById(event.target.getAttribute("data-target"));
        if (target) target.classList.toggle("only-changes", event.target.checked);
      });
    }
  }

  window.Luthien = { localizeTimes: localizeTimes, timeFormat: timeFormat };

  document.addEventListener("DOMContentLoaded", function () {
    setupThemeToggle();
    localizeTimes(document);
    setupChangedOnly();
  });
})();
