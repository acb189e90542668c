// The colour theme: light, dark, or the system's (the default; static/css/app.css follows
// prefers-color-scheme). Loaded without defer at the top of <head>, so a stored choice is on <html>
// before the first paint and no page flashes the other theme; an external file, as the
// Content-Security-Policy allows no inline script. The top bar's toggle (hidden until this runs:
// without JavaScript the system's setting applies) changes the choice and remembers it.
(function () {
  "use strict";

  var KEY = "tasktrack-theme";
  var CHOICES = ["light", "dark"];
  var root = document.documentElement;

  function stored() {
    try {
      return localStorage.getItem(KEY);
    } catch (e) {
      return null; // storage refused (privacy settings): the system's theme
    }
  }

  function remember(choice) {
    try {
      if (CHOICES.indexOf(choice) === -1) localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch (e) {
      // not remembered, still applied to this page
    }
  }

  // data-theme is set only for an explicit choice; without it the system's setting applies.
  function apply(choice) {
    if (CHOICES.indexOf(choice) === -1) root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", choice);
  }

  function showChoice() {
    var select = document.getElementById("theme-choice");
    if (select) select.value = root.getAttribute("data-theme") || "system";
  }

  apply(stored());

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("theme-choice");
    if (!select) return;
    showChoice();
    select.closest(".theme").hidden = false;
    select.addEventListener("change", function () {
      apply(select.value);
      remember(select.value);
    });
  });

  // A choice made in another tab applies here too.
  window.addEventListener("storage", function (event) {
    if (event.key !== KEY && event.key !== null) return;
    apply(stored());
    showChoice();
  });
})();
