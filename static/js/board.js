// Tasktrack board behaviour: drag and drop, the card dialog, small form niceties.
// Everything else is htmx attributes in the templates. No inline scripts anywhere (CSP).
(function () {
  "use strict";

  // The element an hx-swap-oob fragment swaps into: its own id ("true", "outerHTML"...) or the
  // selector after the swap style ("afterend:#card-3", "delete:#card-7").
  function oobSelector(element) {
    var spec = element.getAttribute("hx-swap-oob");
    var colon = spec.indexOf(":");
    return colon >= 0 ? spec.slice(colon + 1) : "#" + element.id;
  }

  // An oob fragment whose target the page does not have (a card beyond "Show more", filtered out,
  // or gone) is dropped instead of being reported by htmx as an error: a reload would not show it
  // either. Targets that an earlier fragment of the same response adds count as present.
  function dropMissingTargets(html) {
    if (typeof html !== "string" || html.indexOf("hx-swap-oob") < 0) return html;
    var template = document.createElement("template");
    template.innerHTML = html;
    var added = {};
    var dropped = false;
    Array.prototype.slice.call(template.content.children).forEach(function (element) {
      if (!element.hasAttribute("hx-swap-oob")) return;
      var selector = oobSelector(element);
      var present;
      try {
        present = Boolean(document.querySelector(selector)) || (selector.charAt(0) === "#" && added[selector.slice(1)]);
      } catch (e) {
        present = true; // not a selector we understand: let htmx decide
      }
      if (!present) {
        element.remove();
        dropped = true;
        return;
      }
      element.querySelectorAll("[id]").forEach(function (inner) {
        added[inner.id] = true;
      });
    });
    return dropped ? template.innerHTML : html;
  }

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
      if (!value) return;
      // A repeated field (the label checkboxes) goes as a list: htmx sends each value.
      if (key in values) values[key] = [].concat(values[key], value);
      else values[key] = value;
    });
    return values;
  }

  // -- The card menu (issue 18) -------------------------------------------------------------------
  // One menu per board (board.html#card_menu), opened at the card whose ⋯ was clicked (or by `m`,
  // or a long press on a phone): its forms' addresses are the card's. A card used to carry a menu
  // of its own, most of the board's HTML. Without JavaScript the ⋯ is a link to the card's page.

  var menuOpener = null; // where the keyboard goes back to when the menu closes

  function cardMenu() {
    return document.getElementById("card-menu");
  }

  function placeCardMenu(menu, anchor) {
    // Below the ⋯, its right edge on the ⋯'s; above it when there is no room below but room above.
    var box = anchor.getBoundingClientRect();
    var parent = menu.offsetParent || document.body;
    var origin = parent.getBoundingClientRect();
    var height = menu.offsetHeight;
    var top = box.bottom + 4;
    if (top + height > window.innerHeight && box.top - height - 4 > 0) top = box.top - height - 4;
    menu.style.top = top - origin.top + parent.scrollTop + "px";
    menu.style.left = Math.max(0, box.right - origin.left + parent.scrollLeft - menu.offsetWidth) + "px";
  }

  function closeCardMenu(returnFocus) {
    var menu = cardMenu();
    var opener = menuOpener;
    menuOpener = null;
    Array.prototype.forEach.call(document.querySelectorAll(".card-menu-button[aria-expanded]"), function (button) {
      button.removeAttribute("aria-expanded");
    });
    if (!menu || menu.hidden) return;
    menu.hidden = true;
    if (returnFocus && opener && document.contains(opener)) opener.focus();
  }

  // Opens the menu for `card`; focus goes to its column picker and, on close, back to `opener`
  // (the card's ⋯ unless given). False when the board has no menu (a viewer's).
  function openCardMenu(card, opener) {
    var menu = cardMenu();
    var base = cardUrl(card);
    if (!menu || !base) return false;
    closeCardMenu(false);
    Array.prototype.forEach.call(menu.querySelectorAll("form[data-action]"), function (form) {
      form.setAttribute("action", base + form.dataset.action);
    });
    var title = card.querySelector(".card-title");
    menu.querySelector(".menu-card").textContent = title ? title.textContent : "";
    menu.dataset.card = card.dataset.id;
    var select = menu.querySelector("select");
    if (select) select.value = "";
    var button = card.querySelector(".card-menu-button");
    if (button) button.setAttribute("aria-expanded", "true");
    menuOpener = opener || button || card;
    menu.hidden = false;
    placeCardMenu(menu, button || card);
    (select || menu.querySelector("button")).focus({ preventScroll: true });
    return true;
  }

  function submitCardMenu(e) {
    var form = e.target;
    var menu = cardMenu();
    if (!menu || !menu.contains(form)) return;
    e.preventDefault();
    var card = document.getElementById("card-" + menu.dataset.card);
    var values = filterValues();
    new FormData(form, e.submitter).forEach(function (value, key) {
      if (key !== "csrfmiddlewaretoken") values[key] = value; // the token goes as a header
    });
    var opener = menuOpener;
    closeCardMenu(false);
    var source = card || document.getElementById("board");
    source.classList.add("saving");
    source.addEventListener(
      "htmx:afterRequest",
      function (done) {
        source.classList.remove("saving");
        var status = done.detail.xhr ? done.detail.xhr.status : 0;
        // Refused: the message says why, and the keyboard is back where the menu was opened.
        if ((status === 0 || status >= 400) && opener && document.contains(opener)) opener.focus();
      },
      { once: true }
    );
    htmx.ajax("POST", form.getAttribute("action"), { source: source, swap: "none", values: values, headers: csrfHeaders() });
  }

  function onMenuClick(e) {
    var button = e.target.closest && e.target.closest(".card-menu-button");
    if (button && cardMenu()) {
      e.preventDefault();
      if (button.getAttribute("aria-expanded") === "true") closeCardMenu(true);
      else openCardMenu(button.closest(".card"), button);
      return;
    }
    var menu = cardMenu();
    if (menu && !menu.hidden && !menu.contains(e.target)) closeCardMenu(false);
  }

  function onMenuKeydown(e) {
    var menu = cardMenu();
    if (e.key !== "Escape" || !menu || menu.hidden) return;
    e.preventDefault();
    closeCardMenu(true);
  }

  function onMenuFocusout(e) {
    // Tab past its last button (or a click elsewhere) leaves the menu: it closes.
    var menu = cardMenu();
    if (!menu || menu.hidden || !menu.contains(e.target)) return;
    if (e.relatedTarget && !menu.contains(e.relatedTarget)) closeCardMenu(false);
  }

  // A card's title opens the card in the dialog; its href is the card's page (without JavaScript, or
  // in a new tab). One listener for the board, not an htmx attribute on every card: less HTML and
  // nothing for htmx to process per card when a board loads or is redrawn.
  function onTitleClick(e) {
    if (e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    var link = e.target.closest && e.target.closest("#board .card-title a");
    if (!link) return;
    e.preventDefault();
    htmx.ajax("GET", link.getAttribute("href"), { source: link, target: "#card-dialog-body" });
  }

  // Shared with keys.js and phone.js, which load after this file.
  window.Tasktrack = {
    dropMissingTargets: dropMissingTargets,
    csrfHeaders: csrfHeaders,
    filterValues: filterValues,
    openCardMenu: openCardMenu,
    cardUrl: cardUrl,
  };

  // A card's own address (its page), the prefix of its actions: move/, archive/, assign-me/.
  function cardUrl(card) {
    var link = card && card.querySelector(".card-title a");
    return link ? link.getAttribute("href") : "";
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
    // A grouped board: a drop into another lane also sets what the lane stands for (one write),
    // refused if the card changed since the page showed it (its version).
    var toLane = evt.to.dataset.lane;
    if (toLane !== undefined && toLane !== evt.from.dataset.lane) {
      values.lane = toLane;
      values.version = item.dataset.version || "";
    }
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
    htmx.ajax("POST", cardUrl(item) + "move/", {
      source: item,
      swap: "none",
      values: values,
      headers: csrfHeaders(),
    });
  }

  function makeSortable(list) {
    if (list.dataset.sortable) return;
    // Sorted by due date or priority, the order on screen is not the ranks: a drop there would
    // place the card by neighbours that are not its neighbours in the stored order.
    if (list.closest("[data-sorted]")) return;
    list.dataset.sortable = "1";
    new Sortable(list, {
      group: "cards",
      draggable: ".card",
      filter: ".card-menu-button, input, select, button, textarea",
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

  // Typed text a close would lose: a field changed from what the page gave it, or a refused save
  // (the conflict view shows the user's text as the form's own).
  function unsaved(dialog) {
    if (dialog.querySelector(".card-detail .conflict")) return true;
    return Array.prototype.some.call(dialog.querySelectorAll("form textarea, form input[type=text], form input:not([type])"),
      function (field) {
        return field.value !== field.defaultValue;
      });
  }

  // True (and says why, once) when closing now would lose typed text; the next try closes.
  function keepUnsaved(dialog) {
    if (dialog.hasAttribute("data-warned") || !unsaved(dialog)) return false;
    dialog.setAttribute("data-warned", "");
    var region = dialog.querySelector(".card-detail [id$='-detail-message']");
    if (region) {
      region.className = "message shown error";
      region.textContent = "You have text that is not saved. Save it, or press Esc again to discard it.";
    }
    return true;
  }

  // -- Swimlanes (issue 16, item 11) -------------------------------------------------------------

  function grouped() {
    return document.querySelector("#board-columns[data-lanes]");
  }

  // Collapsed lanes, remembered per board and grouping: {"<project>:<kind>": {"<lane key>": true}}.
  var LANES_KEY = "tasktrack-collapsed-lanes";

  function collapsedLanes() {
    try {
      return JSON.parse(localStorage.getItem(LANES_KEY) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function lanesScope(region) {
    var board = document.getElementById("board");
    return (board ? board.dataset.project : "") + ":" + region.dataset.lanes;
  }

  function restoreLanes() {
    var region = grouped();
    if (!region) return;
    var closed = collapsedLanes()[lanesScope(region)] || {};
    region.querySelectorAll("details.lane").forEach(function (lane) {
      if (closed[lane.dataset.lane]) lane.open = false;
    });
  }

  function rememberLane(lane) {
    var region = grouped();
    if (!region) return;
    var all = collapsedLanes();
    var scope = lanesScope(region);
    var closed = all[scope] || {};
    if (lane.open) delete closed[lane.dataset.lane];
    else closed[lane.dataset.lane] = true;
    all[scope] = closed;
    try {
      localStorage.setItem(LANES_KEY, JSON.stringify(all));
    } catch (e) {
      /* storage full or off: the lane still toggles */
    }
  }

  // Writes other than a move answer with fragments for the plain board; on a grouped board the
  // lanes and their counts come from a fresh copy of the board instead (live.js's resync). A
  // move's answer is the grouped board itself; a refused one (409: the card changed, a full
  // column) is followed by a fresh copy too, so the page shows what is true now.
  function afterWrite(e) {
    if (!grouped() || !e.detail.requestConfig || e.detail.requestConfig.verb !== "post") return;
    var path = (e.detail.pathInfo && e.detail.pathInfo.requestPath) || e.detail.requestConfig.path || "";
    var status = e.detail.xhr ? e.detail.xhr.status : 0;
    var move = /\/cards\/\d+\/move\/$/.test(path);
    var refresh = (status >= 200 && status < 300 && !move) || status === 409;
    if (refresh && window.Tasktrack.resync) window.Tasktrack.resync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("click", onMenuClick);
    document.addEventListener("click", onTitleClick);
    document.addEventListener("keydown", onMenuKeydown);
    document.addEventListener("focusout", onMenuFocusout);
    document.addEventListener("submit", submitCardMenu);
    init(document.body);
    htmx.onLoad(init);
    restoreLanes();
    htmx.onLoad(restoreLanes);
    document.body.addEventListener("live:resynced", restoreLanes);
    document.body.addEventListener(
      "toggle",
      function (e) {
        if (e.target.matches && e.target.matches("details.lane")) rememberLane(e.target);
      },
      true
    );
    document.body.addEventListener("htmx:afterRequest", afterWrite);

    document.body.addEventListener("htmx:beforeSwap", function (e) {
      e.detail.serverResponse = dropMissingTargets(e.detail.serverResponse);
    });

    var dialog = document.getElementById("card-dialog");
    document.body.addEventListener("htmx:afterSwap", function (e) {
      if (dialog && e.detail.target && e.detail.target.id === "card-dialog-body" && !dialog.open) {
        dialog.showModal();
      }
    });
    // Edit mode opens with the keyboard in the title; leaving the editor (blur) gives its lock back.
    document.body.addEventListener("htmx:afterSettle", function () {
      var detail = document.querySelector(".card-detail[data-focus-title]");
      if (!detail) return;
      detail.removeAttribute("data-focus-title");
      var title = detail.querySelector(".card-edit input[name=title]");
      // Not when the user is already in one of the editor's fields: that would move their typing.
      var active = document.activeElement;
      if (title && !(active && detail.contains(active) && active.matches("input, textarea, select"))) title.focus();
    });
    if (dialog) {
      dialog.addEventListener("close", function () {
        document.getElementById("card-dialog-body").innerHTML = "";
        dialog.removeAttribute("data-warned");
      });
      dialog.addEventListener("click", function (e) {
        if (e.target === dialog && !keepUnsaved(dialog)) dialog.close(); // a click on the backdrop
      });
      // Esc (the dialog's cancel) with typed text not saved asks first: a second Esc discards it.
      dialog.addEventListener("cancel", function (e) {
        if (keepUnsaved(dialog)) e.preventDefault();
      });
      dialog.addEventListener("input", function () {
        dialog.removeAttribute("data-warned");
      });
    }

    document.body.addEventListener("htmx:afterRequest", function (e) {
      var form = e.detail.elt;
      // A refusal (4xx) is "successful" to htmx (its message is swapped in): keep what was typed.
      var accepted = e.detail.successful && e.detail.xhr && e.detail.xhr.status < 300;
      if (form && form.matches && form.matches("form[data-reset-on-success]") && accepted) {
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
        var button = card && card.querySelector(".card-menu-button");
        (button || target).focus();
      }
    });
  });
})();
