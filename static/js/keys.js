// Tasktrack board keyboard: one tab stop per column's card list (a roving tabindex), shortcuts
// (the "?" overlay lists them) and a spoken line for every keyboard move. Without JavaScript the
// board keeps its plain links, menus and forms.
(function () {
  "use strict";

  function board() {
    return document.getElementById("board");
  }

  function cardsOf(list) {
    return Array.prototype.slice.call(list.querySelectorAll(":scope > .card"));
  }

  function lists() {
    return Array.prototype.slice.call(document.querySelectorAll("#board-columns .cards"));
  }

  // -- Roving tabindex ---------------------------------------------------------------------------

  // Each list keeps one card at tabindex 0 (the last one focused, else the first); the rest and
  // the links and menus inside cards are reached with the arrow keys, not Tab.
  function rove(list, active) {
    var cards = cardsOf(list);
    if (!active || cards.indexOf(active) < 0) {
      active = list.querySelector(":scope > .card[tabindex='0']") || cards[0];
    }
    cards.forEach(function (card) {
      card.setAttribute("tabindex", card === active ? "0" : "-1");
      card.querySelectorAll(".card-title a, .card-menu-button").forEach(function (control) {
        control.setAttribute("tabindex", "-1");
      });
    });
  }

  function roveAll() {
    lists().forEach(function (list) {
      rove(list, null);
    });
  }

  function focusCard(card) {
    if (!card) return;
    rove(card.parentNode, card);
    card.focus();
  }

  function focusedCard() {
    var active = document.activeElement;
    return active && active.matches && active.matches("#board-columns .card") ? active : null;
  }

  function stepInColumn(card, step) {
    var cards = cardsOf(card.parentNode);
    return cards[cards.indexOf(card) + step] || null;
  }

  function stepAcross(card, step) {
    // The next column that has cards, at the same height as far as it goes.
    var all = lists();
    var index = cardsOf(card.parentNode).indexOf(card);
    for (var i = all.indexOf(card.parentNode) + step; i >= 0 && i < all.length; i += step) {
      var cards = cardsOf(all[i]);
      if (cards.length) return cards[Math.min(index, cards.length - 1)];
    }
    return null;
  }

  // -- Moves -------------------------------------------------------------------------------------

  // The move request's headers and the board's filter, as board.js sends them.
  var csrfHeaders = window.Tasktrack.csrfHeaders;
  var filterValues = window.Tasktrack.filterValues;
  var cardUrl = window.Tasktrack.cardUrl;

  function announce(text) {
    var region = document.getElementById("board-announcer");
    if (!region) return;
    // A new text node each time, so that the same words twice are read twice.
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  function announceMove(cardId) {
    var card = document.getElementById("card-" + cardId);
    if (!card) return;
    var column = card.closest(".column");
    var name = column && column.querySelector(".column-head h2");
    // A grouped board's cell names its lane and column ("Ana in Todo").
    var where = name ? name.textContent.trim() : (column && column.getAttribute("aria-label")) || "its column";
    var title = card.querySelector(".card-title");
    var position = cardsOf(card.parentNode).indexOf(card) + 1;
    announce("Moved " + (title ? title.textContent.trim() : "the card") + " to " + where + ", position " + position);
  }

  var pendingFocus = null; // the id of the card a keyboard move re-renders
  var pendingAnnounce = null; // the id of a card any move (keys, menu, drag) placed

  // Every accepted move is read out, however it was made: the move endpoint's address names the card.
  function noteMove(e) {
    var path = (e.detail.pathInfo && e.detail.pathInfo.requestPath) || (e.detail.requestConfig && e.detail.requestConfig.path);
    var match = /\/cards\/(\d+)\/move\/$/.exec(path || "");
    var status = e.detail.xhr ? e.detail.xhr.status : 0;
    if (match && status >= 200 && status < 300) pendingAnnounce = match[1];
  }

  // A grouped board: the same column's cell in the lane above (step -1) or below (+1) when the
  // card is at that end of its own cell, else null. Collapsed lanes are passed over.
  function laneStep(card, step) {
    var list = card.parentNode;
    if (list.dataset.lane === undefined) return null;
    var cards = cardsOf(list);
    var index = cards.indexOf(card);
    if ((step < 0 && index > 0) || (step > 0 && index < cards.length - 1)) return null;
    var lane = list.closest("details.lane");
    while (lane) {
      lane = step < 0 ? lane.previousElementSibling : lane.nextElementSibling;
      if (lane && lane.matches("details.lane") && lane.open) {
        return lane.querySelector('.cards[data-status="' + list.dataset.status + '"]');
      }
    }
    return null;
  }

  // One request, through the move endpoint the menu uses: up/down one place, or to the top of
  // the previous/next column; on a grouped board, up from the top of a lane's cell (down from its
  // bottom) to the bottom (top) of the same column in the next lane, which sets that lane's value.
  function move(card, step) {
    if (!cardUrl(card) || card.classList.contains("saving")) return;
    var values = filterValues();
    var intoLane = step.direction ? laneStep(card, step.direction === "up" ? -1 : 1) : null;
    if (intoLane) {
      var there = cardsOf(intoLane);
      values.status_id = intoLane.dataset.status;
      values.lane = intoLane.dataset.lane;
      values.version = card.dataset.version || "";
      values.after_id = step.direction === "up" && there.length ? there[there.length - 1].dataset.id : "";
      values.before_id = step.direction === "down" && there.length ? there[0].dataset.id : "";
    } else if (step.direction) {
      values.direction = step.direction;
    } else {
      var target = card.closest(".column")[step.across < 0 ? "previousElementSibling" : "nextElementSibling"];
      if (!target || !target.dataset.status) return;
      values.status_id = target.dataset.status;
      values.via = "menu";
    }
    var id = card.dataset.id;
    card.classList.add("saving");
    card.addEventListener(
      "htmx:afterRequest",
      function (e) {
        card.classList.remove("saving");
        var status = e.detail.xhr ? e.detail.xhr.status : 0;
        if (status >= 200 && status < 300) pendingFocus = id;
      },
      { once: true }
    );
    htmx.ajax("POST", cardUrl(card) + "move/", { source: card, swap: "none", values: values, headers: csrfHeaders() });
  }

  // `a`: the focused card becomes the user's (one write; the card keeps the keyboard).
  function assignMe(card) {
    if (!cardUrl(card) || card.classList.contains("saving")) return;
    var id = card.dataset.id;
    card.classList.add("saving");
    card.addEventListener(
      "htmx:afterRequest",
      function () {
        card.classList.remove("saving");
        pendingFocus = id;
      },
      { once: true }
    );
    var url = cardUrl(card) + "assign-me/";
    htmx.ajax("POST", url, { source: card, swap: "none", values: filterValues(), headers: csrfHeaders() });
  }

  // Runs after board.js's own afterSettle (it listens on body, this on document): the moved card
  // keeps the keyboard, not its menu button.
  function afterSettle() {
    roveAll();
    if (pendingFocus !== null) {
      focusCard(document.getElementById("card-" + pendingFocus));
      pendingFocus = null;
    }
    if (pendingAnnounce !== null) {
      announceMove(pendingAnnounce);
      pendingAnnounce = null;
    }
  }

  // -- Shortcuts ---------------------------------------------------------------------------------

  function typing(target) {
    return Boolean(target && target.closest && target.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])"));
  }

  function openCard(card, edit) {
    var link = card.querySelector(".card-title a");
    if (!link) return;
    if (!edit) {
      link.click();
      return;
    }
    var url = link.getAttribute("href") + "?edit=1";
    htmx.ajax("GET", url, { source: link, target: "#card-dialog-body" });
  }

  function openMenu(card) {
    if (window.Tasktrack.openCardMenu) window.Tasktrack.openCardMenu(card, card);
  }

  function focusNewCard(card) {
    var column = card ? card.closest(".column") : document.querySelector("#board-columns .column");
    var input = column && column.querySelector(".card-new input[name=title]");
    if (input) input.focus();
  }

  function firstCard() {
    var list = lists().filter(function (each) {
      return cardsOf(each).length;
    })[0];
    return list ? list.querySelector(":scope > .card[tabindex='0']") || cardsOf(list)[0] : null;
  }

  var NAVIGATION = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 };
  var ACROSS = { ArrowLeft: -1, h: -1, ArrowRight: 1, l: 1 };

  function onKeydown(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (document.querySelector("dialog[open]")) return; // the dialog has the keyboard; Esc closes it
    var card = focusedCard();
    var key = e.key;
    var handled = true;
    if (key === "?") {
      document.getElementById("keys-help").showModal();
    } else if (key === "/") {
      var filter = document.getElementById("filter-q");
      if (filter) filter.focus();
    } else if (key === "c" && board().hasAttribute("data-can-edit")) {
      focusNewCard(card);
    } else if (!card) {
      // Outside the cards the arrows keep scrolling; j or k enters the board.
      if (key === "j" || key === "k") focusCard(firstCard());
      else handled = false;
    } else if (e.shiftKey && board().hasAttribute("data-can-edit") && (key === "ArrowUp" || key === "ArrowDown")) {
      move(card, { direction: key === "ArrowUp" ? "up" : "down" });
    } else if (e.shiftKey && board().hasAttribute("data-can-edit") && (key === "ArrowLeft" || key === "ArrowRight")) {
      move(card, { across: key === "ArrowLeft" ? -1 : 1 });
    } else if (NAVIGATION[key] && !e.shiftKey) {
      focusCard(stepInColumn(card, NAVIGATION[key]));
    } else if (ACROSS[key] && !e.shiftKey) {
      focusCard(stepAcross(card, ACROSS[key]));
    } else if (key === "Enter") {
      openCard(card, false);
    } else if (key === "e") {
      openCard(card, true);
    } else if (key === "m") {
      openMenu(card);
    } else if (key === "a" && board().hasAttribute("data-can-edit")) {
      assignMe(card);
    } else {
      handled = false;
    }
    if (handled) e.preventDefault();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!board() || typeof htmx === "undefined") return;
    roveAll();
    document.addEventListener("keydown", onKeydown);
    document.addEventListener("htmx:afterRequest", noteMove);
    document.addEventListener("htmx:afterSettle", afterSettle);
    document.body.addEventListener("live:resynced", roveAll);
    // A click or a Tab into a list makes that card the list's tab stop.
    document.addEventListener("focusin", function (e) {
      var card = e.target.closest && e.target.closest("#board-columns .card");
      if (card && card.parentNode.classList.contains("cards")) rove(card.parentNode, card);
    });
    // Cards that arrive over the socket or with "Show more" join the roving lists. htmx fires a
    // load per new card, all in the same task: one pass over the board after them, not one per
    // card (a page of 50 cards rescanned the whole board 50 times, and each page more than the last).
    var roveQueued = false;
    htmx.onLoad(function () {
      if (roveQueued) return;
      roveQueued = true;
      queueMicrotask(function () {
        roveQueued = false;
        roveAll();
      });
    });
  });
})();
