// A card's permanent link (/WEB-12/): the board's card dialog puts it in the address bar while it
// is open, so the link can be copied from there; closing the dialog puts the board's address back
// (its filter included), and Back closes the dialog. "Copy link" buttons copy it.
(function () {
  "use strict";

  var closingByBack = false;
  var returning = false; // our own history.back() after a close: nothing for htmx to restore

  function dialog() {
    return document.getElementById("card-dialog");
  }

  function linkIn(root) {
    var holder = root && root.querySelector("[data-permalink]");
    return holder ? holder.getAttribute("data-permalink") : null;
  }

  function showLink() {
    var d = dialog();
    if (!d || !d.open) return;
    var link = linkIn(d);
    if (!link || location.pathname === link) return;
    var detail = d.querySelector(".card-detail[data-view-url]");
    var state = { cardDialog: true, cardUrl: detail ? detail.getAttribute("data-view-url") : null };
    if (history.state && history.state.cardDialog) {
      history.replaceState(state, "", link); // the same dialog, a new address (the card moved)
    } else {
      history.pushState(state, "", link);
    }
  }

  function copy(text, button) {
    var done = function () {
      button.textContent = "Copied";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
      return;
    }
    var field = document.createElement("input");
    field.value = text;
    document.body.appendChild(field);
    field.select();
    document.execCommand("copy");
    field.remove();
    done();
  }

  function revealButtons(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("[data-copy-link]"), function (button) {
      button.hidden = false;
    });
  }

  // Capture, before htmx's own handler: Back from an open dialog closes it, and nothing else.
  window.addEventListener(
    "popstate",
    function (e) {
      var d = dialog();
      if (returning) {
        returning = false;
        e.stopImmediatePropagation();
      } else if (d && d.open && !(e.state && e.state.cardDialog)) {
        closingByBack = true;
        d.close();
        closingByBack = false;
        e.stopImmediatePropagation();
      } else if (d && !d.open && e.state && e.state.cardDialog && e.state.cardUrl && window.htmx) {
        // Forward to a card: open it again.
        htmx.ajax("GET", e.state.cardUrl, { target: "#card-dialog-body" });
        e.stopImmediatePropagation();
      }
    },
    true
  );

  document.addEventListener("DOMContentLoaded", function () {
    revealButtons(document);
    document.body.addEventListener("htmx:afterSettle", function (e) {
      revealButtons(e.target);
      showLink();
    });
    document.body.addEventListener("click", function (e) {
      var button = e.target.closest && e.target.closest("[data-copy-link]");
      if (!button) return;
      var link = button.closest("[data-permalink]");
      if (link) copy(location.origin + link.getAttribute("data-permalink"), button);
    });
    var d = dialog();
    if (d) {
      d.addEventListener("close", function () {
        if (!closingByBack && history.state && history.state.cardDialog) {
          returning = true;
          history.back();
        }
      });
    }
  });
})();
