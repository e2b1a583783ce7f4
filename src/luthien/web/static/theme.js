// Applies the saved theme before the page paints (loaded synchronously in <head>).
(function () {
  "use strict";
  try {
    var saved = window.localStorage.getItem("luthien-theme");
    if (saved === "light" || saved === "dark") {
      document.documentElement.setAttribute("data-theme", saved);
    }
  } catch (e) {
    // Storage may be disabled; the system preference applies.
  }
})();
