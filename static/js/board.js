// Tasktrack board behaviour: drag and drop, the card dialog, small form niceties.
// Everything else is htmx attributes in the templates. No inline scripts anywhere (CSP).
(function () {
  "use strict";

  function csrfHeaders() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (e) {
      return {};
    }
  }

  function filterValues() {
    var form = document.getElementById("board-filter");
    var values = {};
    if (!form) return values;
    new FormData(form).forEach(function (value, key) {
      if (value) values[key] = value;
    });
    return values;
  }

  function siblingCard(el, direction) {
    var node = direction === "prev" ? el.previousElementSibling : el.nextElementSibling;
    while (node && !node.classList.contains("card")) {
      node = direction === "prev" ? node.previousElementSibling : node.nextElementSibling;
    }
    return node;
  }

  function putBack(evt) {
    // The server refused the move: the card returns where it was, the message says why.
    var from = evt.from;
    var ref = from.children[evt.oldIndex] || null;
    if (ref === evt.item) return;
    from.insertBefore(evt.item, ref);
  }

  function onDrop(evt) {
    var item = evt.item;
    if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
    var after = siblingCard(item, "prev");
    var before = siblingCard(item, "next");
    var values = filterValues();
    values.status_id = evt.to.dataset.status;
    values.after_id = after ? after.dataset.id : "";
    values.before_id = before ? before.dataset.id : "";
    item.classList.add("saving");
    item.addEventListener(
      "htmx:afterRequest",
      function (e) {
        item.classList.remove("saving");
        var status = e.detail.xhr ? e.detail.xhr.status : 0;
        if (status === 404) item.remove(); // deleted meanwhile: the message says so
        else if (status === 0 || status >= 400) putBack(evt);
      },
      { once: true }
    );
    htmx.ajax("POST", item.dataset.moveUrl, {
      source: item,
      swap: "none",
      values: values,
      headers: csrfHeaders(),
    });
  }

  function makeSortable(list) {
    if (list.dataset.sortable) return;
    list.dataset.sortable = "1";
    new Sortable(list, {
      group: "cards",
      draggable: ".card",
      filter: "summary, .card-menu, input, select, button, textarea",
      preventOnFilter: false,
      animation: 150,
      forceFallback: true,
      fallbackTolerance: 4,
      delayOnTouchOnly: true,
      delay: 150,
      ghostClass: "card-ghost",
      chosenClass: "card-chosen",
      dragClass: "card-drag",
      onEnd: onDrop,
    });
  }

  function init(root) {
    var board = document.getElementById("board");
    if (!board || !board.hasAttribute("data-can-edit") || typeof Sortable === "undefined") return;
    var lists = root.matches && root.matches(".cards") ? [root] : root.querySelectorAll(".cards");
    Array.prototype.forEach.call(lists, makeSortable);
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document.body);
    htmx.onLoad(init);

    var dialog = document.getElementById("card-dialog");
    document.body.addEventListener("htmx:afterSwap", function (e) {
      if (dialog && e.detail.target && e.detail.target.id === "card-dialog-body" && !dialog.open) {
        dialog.showModal();
      }
    });
    if (dialog) {
      dialog.addEventListener("close", function () {
        document.getElementById("card-dialog-body").innerHTML = "";
      });
      dialog.addEventListener("click", function (e) {
        if (e.target === dialog) dialog.close(); // a click on the backdrop
      });
    }

    document.body.addEventListener("htmx:afterRequest", function (e) {
      var form = e.detail.elt;
      if (form && form.matches && form.matches("form[data-reset-on-success]") && e.detail.successful) {
        form.reset();
        var first = form.querySelector("input:not([type=hidden])");
        if (first) first.focus();
      }
    });

    // A card moved from its menu is re-rendered: keep the keyboard where it was.
    document.body.addEventListener("htmx:afterSettle", function () {
      var target = document.querySelector("[data-focus]");
      if (target) {
        target.removeAttribute("data-focus");
        var card = target.closest(".card");
        var summary = card && card.querySelector(".card-menu summary");
        (summary || target).focus();
      }
    });
  });
})();
