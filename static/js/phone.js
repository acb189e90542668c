// Tasktrack board on a phone (issue 16, item 13): one column per screen, a sticky tab bar with each
// column's name and count, long-press on a card for its move menu. The tab bar is built from the
// board's own column heads and counts, so every live push (oob swaps of #column-N-count) reaches
// it too. On a wide screen the tab bar is hidden by CSS and Sortable drags as before.
(function () {
  "use strict";

  var PHONE = window.matchMedia("(max-width: 700px)");
  var LONG_PRESS_MS = 500;
  var MOVE_TOLERANCE_PX = 10; // a finger that moves further is scrolling, not pressing

  // -- Tab bar -----------------------------------------------------------------------------------

  function columnsStrip() {
    return document.getElementById("board-columns");
  }

  function countText(column) {
    var count = column.querySelector(".column-count");
    var held = count && count.querySelector(".held");
    var matching = count && count.querySelector(".matching");
    if (matching) return matching.textContent.replace(/\D+/g, "") + "/" + (held ? held.textContent : "");
    return held ? held.textContent.trim() : "";
  }

  function tabFor(column) {
    var tab = document.createElement("a");
    tab.className = "column-tab";
    tab.href = "#" + column.id;
    tab.dataset.column = column.id;
    var name = document.createElement("span");
    name.className = "tab-name";
    var count = document.createElement("span");
    count.className = "tab-count";
    tab.appendChild(name);
    tab.appendChild(count);
    return tab;
  }

  // Brings the tabs in line with the columns: same order, names and counts.
  function syncTabs() {
    var nav = document.getElementById("column-tabs");
    var strip = columnsStrip();
    if (!nav || !strip) return;
    var columns = Array.prototype.slice.call(strip.querySelectorAll(":scope > .column"));
    var ids = columns.map(function (column) { return column.id; }).join(" ");
    if (nav.dataset.columns !== ids) {
      nav.textContent = "";
      columns.forEach(function (column) { nav.appendChild(tabFor(column)); });
      nav.dataset.columns = ids;
      observeColumns(strip, columns);
    }
    columns.forEach(function (column, index) {
      var tab = nav.children[index];
      var heading = column.querySelector(".column-head h2");
      var name = heading ? heading.textContent.trim() : "";
      var count = countText(column);
      if (tab.firstChild.textContent !== name) tab.firstChild.textContent = name;
      if (tab.lastChild.textContent !== count) tab.lastChild.textContent = count;
      tab.classList.toggle("over", Boolean(column.querySelector(".column-count.over")));
    });
    nav.hidden = columns.length === 0;
  }

  function highlight(columnId) {
    var nav = document.getElementById("column-tabs");
    if (!nav) return;
    Array.prototype.forEach.call(nav.children, function (tab) {
      var current = tab.dataset.column === columnId;
      tab.classList.toggle("current", current);
      if (current) {
        tab.setAttribute("aria-current", "true");
        if (PHONE.matches) tab.scrollIntoView({ block: "nearest", inline: "nearest" });
      } else {
        tab.removeAttribute("aria-current");
      }
    });
  }

  // The tab of the column that fills most of the strip is the current one.
  var observer = null;
  var visibleShare = {};
  function observeColumns(strip, columns) {
    if (observer) observer.disconnect();
    if (typeof IntersectionObserver === "undefined") return;
    visibleShare = {};
    observer = new IntersectionObserver(
      function (entries) {
        entries.forEach(function (entry) {
          visibleShare[entry.target.id] = entry.isIntersecting ? entry.intersectionRatio : 0;
        });
        var best = null;
        Object.keys(visibleShare).forEach(function (id) {
          if (best === null || visibleShare[id] > visibleShare[best]) best = id;
        });
        if (best && visibleShare[best] > 0) highlight(best);
      },
      { root: strip, threshold: [0, 0.25, 0.5, 0.75, 1] }
    );
    columns.forEach(function (column) { observer.observe(column); });
  }

  function onTabClick(e) {
    var tab = e.target.closest && e.target.closest(".column-tab");
    if (!tab) return;
    var column = document.getElementById(tab.dataset.column);
    var strip = columnsStrip();
    if (!column || !strip) return;
    e.preventDefault(); // the strip scrolls sideways; the page stays where it is
    var smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    strip.scrollTo({ left: column.offsetLeft - strip.offsetLeft, behavior: smooth ? "smooth" : "auto" });
    highlight(column.id);
  }

  // -- Long-press ----------------------------------------------------------------------------------

  var press = null;

  function cancelPress() {
    if (press) window.clearTimeout(press.timer);
    press = null;
  }

  function openMenu(card) {
    if (!window.Tasktrack || !window.Tasktrack.openCardMenu(card)) return false;
    if (navigator.vibrate) navigator.vibrate(10);
    return true;
  }

  function onTouchStart(e) {
    cancelPress();
    if (!PHONE.matches || e.touches.length !== 1) return;
    var card = e.target.closest && e.target.closest("#board .card");
    if (!card || e.target.closest(".card-menu-button, #card-menu, input, select, button, textarea")) return;
    var touch = e.touches[0];
    press = { card: card, x: touch.clientX, y: touch.clientY, fired: false };
    press.timer = window.setTimeout(function () {
      if (!press) return;
      press.fired = openMenu(press.card);
    }, LONG_PRESS_MS);
  }

  function onTouchMove(e) {
    if (!press || press.fired) return;
    var touch = e.touches[0];
    if (Math.abs(touch.clientX - press.x) > MOVE_TOLERANCE_PX || Math.abs(touch.clientY - press.y) > MOVE_TOLERANCE_PX) {
      cancelPress();
    }
  }

  function onTouchEnd(e) {
    if (press && press.fired && e.cancelable) e.preventDefault(); // no click: the title would open the dialog
    cancelPress();
  }

  function onContextMenu(e) {
    // A phone's own long-press menu (copy link...) would cover the card's.
    if (PHONE.matches && e.target.closest && e.target.closest("#board .card")) e.preventDefault();
  }

  // -- Drag only where there is room for it ---------------------------------------------------------

  function toggleDrag() {
    if (typeof Sortable === "undefined") return;
    Array.prototype.forEach.call(document.querySelectorAll("#board .cards"), function (list) {
      var sortable = Sortable.get(list);
      if (sortable) sortable.option("disabled", PHONE.matches);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.getElementById("board");
    if (!board) return;
    syncTabs();
    toggleDrag();
    // Live pushes, "Show more" and the filter all change the board's DOM: the tabs follow it.
    var pending = false;
    new MutationObserver(function () {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        syncTabs();
        toggleDrag();
      });
    }).observe(board, { childList: true, subtree: true, characterData: true });
    if (PHONE.addEventListener) PHONE.addEventListener("change", toggleDrag);
    document.addEventListener("click", onTabClick);
    board.addEventListener("touchstart", onTouchStart, { passive: true });
    board.addEventListener("touchmove", onTouchMove, { passive: true });
    board.addEventListener("touchend", onTouchEnd);
    board.addEventListener("touchcancel", cancelPress);
    board.addEventListener("contextmenu", onContextMenu);
  });
})();
