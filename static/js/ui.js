// Tasktrack page behaviour shared by every page: closable, fading messages, focus kept across a
// swap. Without JavaScript messages simply stay. (The board's card menu is in board.js.)
(function () {
  "use strict";

  var FADE_AFTER_MS = 5000; // a success message; one with an action (Undo) stays twice as long
  var FADE_MS = 400; // matches the opacity transition in app.css

  // -- Messages ----------------------------------------------------------------------------------

  function dismiss(message) {
    if (message.parentNode && message.parentNode.classList.contains("flash")) {
      var list = message.parentNode;
      message.remove();
      if (!list.children.length) list.remove();
      return;
    }
    // A region htmx swaps into again: emptied, it hides itself (.message:empty).
    message.classList.remove("shown", "ok", "error", "fading");
    message.textContent = "";
  }

  function fadeLater(message, delay) {
    window.setTimeout(function () {
      if (!message.isConnected || !message.classList.contains("shown")) return;
      if (message.matches(":hover, :focus-within")) return fadeLater(message, FADE_AFTER_MS);
      message.classList.add("fading");
      window.setTimeout(function () {
        if (message.classList.contains("fading")) dismiss(message);
      }, FADE_MS);
    }, delay);
  }

  function decorate(message) {
    if (message.dataset.decorated) return;
    message.dataset.decorated = "1";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "message-close";
    close.setAttribute("aria-label", "Dismiss message");
    // The × comes from CSS (.message-close::before): the message's text stays its own words.
    close.addEventListener("click", function () {
      dismiss(message);
    });
    message.appendChild(close);
    if (message.classList.contains("ok")) {
      fadeLater(message, message.querySelector("form, a") ? 2 * FADE_AFTER_MS : FADE_AFTER_MS);
    }
  }

  function decorateAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches(".message.shown")) decorate(scope);
    Array.prototype.forEach.call(scope.querySelectorAll(".message.shown"), decorate);
  }

  function clearErrors() {
    // A later success replaces a stale refusal wherever it is on the page.
    Array.prototype.forEach.call(document.querySelectorAll(".message.shown.error"), dismiss);
  }

  // -- Focus kept across a swap -----------------------------------------------------------------
  // The Columns page swaps its whole list after Save or an arrow: the keyboard stays on the control
  // that was used, in the row it belongs to (wherever that row moved), not at the top of the page.

  var keptFocus = null;

  function describeFocus(swapTarget) {
    var control = document.activeElement;
    var row = control && swapTarget.contains(control) && control.closest("[id]");
    if (!row || row === swapTarget) return null;
    var selector = control.tagName.toLowerCase();
    if (control.name) selector += '[name="' + control.name + '"]';
    if (control.value && control.tagName === "BUTTON") selector += '[value="' + control.value + '"]';
    return { row: row.id, selector: selector };
  }

  function restoreFocus() {
    if (!keptFocus) return;
    var row = document.getElementById(keptFocus.row);
    var selector = keptFocus.selector;
    keptFocus = null;
    if (!row) return;
    var control = row.querySelector(selector);
    if (control && control.disabled) {
      // An arrow at the end of the row's way (first or last): the other arrow of the same row.
      control = row.querySelector('button[name="direction"]:not([disabled])');
    }
    if (control) control.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    decorateAll(document);
    if (typeof htmx === "undefined") return;
    htmx.onLoad(decorateAll);
    document.body.addEventListener("htmx:beforeSwap", function (e) {
      var status = e.detail.xhr ? e.detail.xhr.status : 0;
      // A background read (data-quiet: the notification bell, a card's Watch button) is nobody's
      // success: the refusals on the page stay.
      var source = e.detail.requestConfig && e.detail.requestConfig.elt;
      var quiet = source && source.closest && source.closest("[data-quiet]");
      if (status >= 200 && status < 300 && !quiet) clearErrors();
      var target = e.detail.target;
      keptFocus = target && target.id === "column-settings" ? describeFocus(target) : null;
    });
    document.body.addEventListener("htmx:afterSettle", restoreFocus);
  });
})();
