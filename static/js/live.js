// Live board: keeps the page in step with the WebSocket that #live opens (htmx ws extension).
//
// Every change event starts with <div id="live-meta" data-seq="N">. The page applies event N
// only after N-1; on a gap, a reconnect or a "resync" event it re-fetches the board region and
// takes the sequence number the fresh page carries. Its own changes come back as a bare number
// (kind "own"), so the page that made a change never sees it twice.
(function () {
  "use strict";

  var HEARTBEAT_MS = 20000;
  var LOCK_RENEW_MS = 10000;
  var GOING_AWAY = 1001; // the server is shutting down (tasktrack.shutdown)
  var GOING_AWAY_DELAY_MS = 2000;

  var root = document.getElementById("live");
  if (!root || !window.htmx) {
    return;
  }
  var clientId = root.dataset.client;
  var boardUrl = root.dataset.boardUrl;
  var boardTarget = root.dataset.boardTarget || "#board";
  var lastSeq = root.dataset.seq === "" ? null : Number(root.dataset.seq);
  var socket = null;
  var opened = false;
  var resyncing = false;
  var resyncAgain = false;
  var held = []; // events that arrived while a resync was in flight: [seq, html]
  var timers = [];
  var heldLocks = {};

  // Reconnect quickly (at most ~3 s apart) so the board recovers by itself.
  htmx.config.wsReconnectDelay = function (retryCount) {
    return Math.min(500 * Math.pow(2, retryCount), 3000) * (0.5 + Math.random() / 2);
  };

  document.body.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-Live-Client"] = clientId;
  });

  function setState(state, text) {
    root.dataset.state = state;
    var label = root.querySelector(".live-state");
    if (label) {
      label.textContent = text;
    }
  }

  function readMeta(html) {
    var match = /<div id="live-meta"[^>]*>/.exec(html);
    if (!match) {
      return null;
    }
    var tag = match[0];
    var seq = /data-seq="(\d+)"/.exec(tag);
    var first = /data-first-seq="(\d+)"/.exec(tag);
    var kind = /data-kind="(\w+)"/.exec(tag);
    return {
      seq: seq ? Number(seq[1]) : null,
      first: first ? Number(first[1]) : seq ? Number(seq[1]) : null, // a bulk change spans first..seq
      kind: kind ? kind[1] : "change",
      resync: /data-resync="1"/.test(tag),
    };
  }

  function filtered() {
    var form = document.getElementById("board-filter");
    if (!form) {
      return false;
    }
    // Any value but the label mode hides cards or, for "sort", orders them otherwise than by rank:
    // fragments insert cards by rank, so such a board fetches itself again instead.
    var found = false;
    new FormData(form).forEach(function (value, key) {
      if (value && key !== "label_mode") found = true;
    });
    return found;
  }

  function apply(html) {
    // Fragments for cards this page has not loaded (beyond "Show more", filtered out) are dropped,
    // not swapped into an error (board.js).
    var prune = window.Tasktrack && window.Tasktrack.dropMissingTargets;
    htmx.swap(document.body, prune ? prune(html) : html, { swapStyle: "none" });
  }

  // The open card dialog follows other people's changes of its card: a change event names every
  // card it touches (delete:#card-N before placing it again).
  function touchedCards(html) {
    var ids = {};
    var pattern = /hx-swap-oob="delete:#card-(\d+)"/g;
    var match;
    while ((match = pattern.exec(html))) {
      ids[match[1]] = true;
    }
    return ids;
  }

  function openDetail() {
    var dialog = document.getElementById("card-dialog");
    if (!dialog || !dialog.open) {
      return null;
    }
    return dialog.querySelector(".card-detail[data-card]");
  }

  function say(detail, text, kind) {
    var region = document.getElementById("card-" + detail.dataset.card + "-detail-message");
    if (region) {
      region.className = "message shown " + kind;
      region.textContent = text;
    }
  }

  function refreshDialog() {
    var detail = openDetail();
    if (!detail) {
      return;
    }
    var taskId = detail.dataset.card;
    var wasArchived = detail.hasAttribute("data-archived");
    fetch(detail.dataset.viewUrl, {
      credentials: "same-origin",
      headers: { "HX-Request": "true", "X-Live-Client": clientId },
    })
      .then(function (response) {
        if (response.status === 404) {
          return null;
        }
        if (!response.ok) {
          throw new Error("card fetch failed: " + response.status);
        }
        return response.text();
      })
      .then(function (text) {
        var current = openDetail();
        if (!current || current.dataset.card !== taskId) {
          return; // closed or another card meanwhile
        }
        if (text === null) {
          current.setAttribute("data-gone", "");
          // Nothing left to edit, archive or delete: only the text (and, editing, the user's own).
          current.querySelectorAll(".detail-tools a, .detail-actions").forEach(function (control) {
            control.remove();
          });
          say(current, "This card was deleted by someone else." +
            (current.classList.contains("editing") ? " Copy your text before you close it." : ""), "error");
          return;
        }
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("card-" + taskId + "-detail");
        if (!fresh) {
          return;
        }
        var archived = fresh.hasAttribute("data-archived") && !wasArchived;
        if (current.classList.contains("editing")) {
          // The user's text stays: only the header (column, title, assignee) follows; saving
          // then shows both versions (the version check).
          var head = document.getElementById("card-" + taskId + "-head");
          var freshHead = fresh.querySelector("#card-" + taskId + "-head");
          if (head && freshHead) {
            freshHead.querySelectorAll(".detail-tools a").forEach(function (link) {
              link.remove(); // view mode's Edit: this dialog is editing already
            });
            htmx.swap(head, freshHead.outerHTML, { swapStyle: "outerHTML" });
          }
          say(current, archived ? "This card was archived by someone else." :
            "Someone else changed this card. Your text is kept; saving shows you both versions.", "error");
        } else {
          var drafts = keepDrafts(current);
          htmx.swap(current, fresh.outerHTML, { swapStyle: "outerHTML" });
          restoreDrafts(drafts);
          if (archived) {
            say(openDetail(), "This card was archived by someone else.", "error");
          }
        }
      })
      .catch(function () {});
  }

  // Comments (issue 14): a comment being written or edited, and an open edit or delete step,
  // survive the dialog's refresh when someone else changes the card (elements with data-draft and an id).
  function keepDrafts(detail) {
    var focused = document.activeElement;
    return Array.prototype.map.call(detail.querySelectorAll("[data-draft][id]"), function (element) {
      return {
        id: element.id,
        value: element.value,
        changed: element.tagName === "TEXTAREA" && element.value !== element.defaultValue,
        open: element.open,
        focused: element === focused,
        start: element.selectionStart,
        end: element.selectionEnd
      };
    });
  }

  function restoreDrafts(drafts) {
    drafts.forEach(function (draft) {
      var element = document.getElementById(draft.id);
      if (!element) {
        return;
      }
      if (element.tagName === "DETAILS") {
        element.open = draft.open;
      } else if (draft.changed) {
        element.value = draft.value;
      }
      if (draft.focused) {
        element.focus();
        if (draft.changed && typeof draft.start === "number") {
          element.setSelectionRange(draft.start, draft.end);
        }
      }
    });
  }

  function followDialog(html) {
    var detail = openDetail();
    if (detail && (html === null || touchedCards(html)[detail.dataset.card])) {
      refreshDialog();
    }
  }

  // The fresh board's presence list is empty: who is here comes over the socket, not the page.
  function keepPresence(current, fresh) {
    var now = current.querySelector(".presence");
    var blank = fresh.querySelector(".presence");
    if (now && blank) {
      blank.innerHTML = now.innerHTML;
    }
  }

  function resync() {
    if (resyncing) {
      resyncAgain = true;
      return;
    }
    resyncing = true;
    resyncAgain = false;
    held = [];
    // The page's own address keeps its filter (the filter form pushes it into the URL).
    var url = location.pathname.indexOf(boardUrl) === 0 ? location.pathname + location.search : boardUrl;
    fetch(url, { credentials: "same-origin", headers: { "X-Live-Client": clientId } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("board fetch failed: " + response.status);
        }
        return response.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.querySelector(boardTarget);
        var current = document.querySelector(boardTarget);
        if (fresh && current) {
          keepPresence(current, fresh);
          // The keyboard stays where it was (a new card's title field, a card) when the fresh
          // page has it too.
          var focused = document.activeElement && current.contains(document.activeElement) ? document.activeElement.id : "";
          htmx.swap(current, fresh.outerHTML, { swapStyle: "outerHTML" });
          var again = focused && document.getElementById(focused);
          if (again && again !== document.activeElement) {
            again.focus();
          }
        }
        var freshRoot = doc.getElementById("live");
        lastSeq = freshRoot && freshRoot.dataset.seq !== "" ? Number(freshRoot.dataset.seq) : null;
        resyncing = false;
        var pending = held;
        held = [];
        pending.forEach(function (item) {
          receive(item[0], item[1]);
        });
        if (resyncAgain) {
          resync();
        }
        followDialog(null);
        document.body.dispatchEvent(new CustomEvent("live:resynced", { detail: { seq: lastSeq } }));
      })
      .catch(function () {
        resyncing = false;
        setTimeout(resync, 2000);
      });
  }

  // A grouped board (board.js) fetches itself after its own writes: the lanes are not fragments.
  if (window.Tasktrack) {
    window.Tasktrack.resync = resync;
  }

  // Returns true when the message was handled here (and must not be swapped by the extension).
  function receive(meta, html) {
    if (meta.kind === "hello") {
      // A reconnect may have missed anything; a first connect only what came after the page.
      if (opened || (meta.seq !== null && meta.seq !== lastSeq)) {
        resync();
      }
      if (opened) {
        // The old socket gave this page's edit locks back when it closed: take them again.
        Object.keys(heldLocks).forEach(function (taskId) {
          send({ type: "take", task: Number(taskId) });
        });
      }
      opened = true;
      return true;
    }
    if (resyncing) {
      held.push([meta, html]);
      return true;
    }
    if (meta.resync || (meta.kind === "change" && filtered())) {
      // Fragments are rendered unfiltered: a filtered board fetches itself again instead.
      resync();
      return true;
    }
    if (meta.seq !== null && lastSeq !== null) {
      if (meta.seq <= lastSeq) {
        return true; // already in the page
      }
      if (meta.first !== lastSeq + 1) {
        resync();
        return true;
      }
    }
    if (meta.seq !== null) {
      lastSeq = meta.seq;
    }
    if (meta.kind !== "own" && html !== null) {
      apply(html);
      followDialog(html);
    }
    return true;
  }

  root.addEventListener("htmx:wsBeforeMessage", function (event) {
    var html = event.detail.message;
    if (html.indexOf('<div id="live-lock"') === 0) {
      event.preventDefault();
      lockMessage(html);
      return;
    }
    var meta = readMeta(html);
    if (!meta) {
      return; // presence: the extension swaps it
    }
    event.preventDefault();
    receive(meta, meta.kind === "change" ? html : null);
  });

  function send(message) {
    if (socket) {
      socket.send(JSON.stringify(message));
    }
  }

  // Edit locks. Reading a card takes none. Edit (the server) or the first keystroke in the editor
  // ("take") takes it; while this page holds it, it renews it ("lock" only renews, never takes);
  // it gives it back ("unlock") when the editor loses focus, goes away (Save, Cancel), the dialog
  // closes or the page is hidden.
  function editors() {
    var open = {};
    document.querySelectorAll("[data-edit-lock]").forEach(function (editor) {
      var dialog = editor.closest("dialog");
      if (!dialog || dialog.open) {
        open[editor.dataset.editLock] = editor;
      }
    });
    return open;
  }

  function release(taskId) {
    if (heldLocks[taskId]) {
      delete heldLocks[taskId];
      send({ type: "unlock", task: Number(taskId) });
    }
  }

  function syncLocks(renew) {
    var open = editors();
    Object.keys(open).forEach(function (taskId) {
      var editor = open[taskId];
      var takenByServer = editor.hasAttribute("data-lock-held");
      if (takenByServer) {
        editor.removeAttribute("data-lock-held"); // the server took it for this editor (Edit)
        heldLocks[taskId] = true;
      }
      // A renewal at once tells the socket this page holds it: the server gives it back when
      // the socket closes, should the page's own "unlock" not get out on leaving.
      if ((renew || takenByServer) && heldLocks[taskId]) {
        send({ type: "lock", task: Number(taskId) });
      }
    });
    Object.keys(heldLocks).forEach(function (taskId) {
      if (!open[taskId]) {
        release(taskId);
      }
    });
  }

  var lockCheck = null;
  function lockChanged() {
    clearTimeout(lockCheck);
    if (document.querySelector("[data-lock-held]")) {
      // Edit took a lock for an editor just shown: the socket hears of it now, not 50 ms later,
      // which a page left at once would never reach (and the lock would outlive the page).
      syncLocks(false);
      return;
    }
    lockCheck = setTimeout(function () {
      syncLocks(false);
    }, 50);
  }

  var RETAKE_MS = 5000; // after a refusal, keystrokes ask again at most this often
  var refusedAt = {};
  document.body.addEventListener("input", function (event) {
    var editor = event.target.closest && event.target.closest("[data-edit-lock]");
    var taskId = editor && editor.dataset.editLock;
    if (taskId && !heldLocks[taskId] && !(Date.now() - (refusedAt[taskId] || 0) < RETAKE_MS)) {
      heldLocks[taskId] = true;
      send({ type: "take", task: Number(taskId) });
    }
  });

  document.body.addEventListener("focusout", function (event) {
    var editor = event.target.closest && event.target.closest("[data-edit-lock]");
    if (editor && !(event.relatedTarget && editor.contains(event.relatedTarget))) {
      release(editor.dataset.editLock);
    }
  });

  // Who is editing what, as the board's socket tells it: {taskId: {user, name, heard}}. A card
  // face shows "being edited by …"; a mark not renewed for LOCK_FORGET_MS goes away by itself.
  var LOCK_FORGET_MS = 35000;
  var editing = {};
  var me = root.dataset.user;

  function lockMessage(html) {
    var tag = new DOMParser().parseFromString(html, "text/html").getElementById("live-lock");
    if (!tag) {
      return;
    }
    var taskId = tag.dataset.task;
    var name = tag.dataset.name || "";
    if (!name) {
      if (editing[taskId] && editing[taskId].user === tag.dataset.user) {
        delete editing[taskId];
      }
    } else {
      editing[taskId] = { user: tag.dataset.user, name: name, heard: Date.now() };
      if (tag.dataset.user !== me && heldLocks[taskId]) {
        delete heldLocks[taskId]; // refused, or lost: a later keystroke asks again
        refusedAt[taskId] = Date.now();
      }
    }
    markCard(taskId);
  }

  function markCard(taskId) {
    var holder = editing[taskId];
    var someoneElse = holder && holder.user !== me ? holder.name : "";
    var card = document.getElementById("card-" + taskId);
    if (card && card.classList.contains("card")) {
      var mark = card.querySelector(".card-editing");
      if (someoneElse) {
        if (!mark) {
          mark = document.createElement("p");
          mark.className = "card-editing";
          card.querySelector(".card-meta").insertAdjacentElement("afterend", mark);
        }
        mark.textContent = "Being edited by " + someoneElse;
      } else if (mark) {
        mark.remove();
      }
    }
    [["lock-notice", "Being edited by " + someoneElse + "."],
     ["edit-notice", someoneElse + " is editing this card too: saving may replace their changes, or theirs yours."]]
      .forEach(function (pair) {
        var notice = document.getElementById("card-" + taskId + "-" + pair[0]);
        if (notice) {
          notice.textContent = someoneElse ? pair[1] : "";
        }
      });
  }

  // The locks held when the board was rendered (the page, or a resync's fresh copy of it).
  function seedLocks() {
    var board = document.querySelector(boardTarget);
    var seed = {};
    try {
      seed = JSON.parse((board && board.dataset.editLocks) || "{}");
    } catch (e) {
      return;
    }
    Object.keys(seed).forEach(function (taskId) {
      editing[taskId] = { user: seed[taskId][0], name: seed[taskId][1], heard: Date.now() };
      markCard(taskId);
    });
  }
  seedLocks();
  document.body.addEventListener("live:resynced", seedLocks);

  // A card placed again (a live move, Show more, the dialog) gets its mark back.
  htmx.onLoad(function (element) {
    Object.keys(editing).forEach(function (taskId) {
      if (element.querySelector("#card-" + taskId) || element.id === "card-" + taskId ||
          element.querySelector("#card-" + taskId + "-lock-notice, #card-" + taskId + "-edit-notice")) {
        markCard(taskId);
      }
    });
  });

  setInterval(function () {
    var now = Date.now();
    Object.keys(editing).forEach(function (taskId) {
      if (now - editing[taskId].heard > LOCK_FORGET_MS) {
        delete editing[taskId];
        markCard(taskId);
      }
    });
  }, 5000);

  root.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    setState("live", "");
    timers.forEach(clearInterval);
    timers = [
      setInterval(function () {
        send({ type: "ping" });
      }, HEARTBEAT_MS),
      setInterval(function () {
        syncLocks(true);
      }, LOCK_RENEW_MS),
    ];
  });

  root.addEventListener("htmx:wsClose", function (event) {
    socket = null;
    timers.forEach(clearInterval);
    timers = [];
    var code = event.detail.event.code;
    if (code === 4403) {
      setState("closed", "Live updates are off for this board.");
    } else if (code === 4429) {
      // Too many messages, or too many boards open at once: the extension does not reconnect on
      // this code, and neither does this page until it is reloaded.
      setState("closed", "Live updates paused: too many open boards or messages. Close other tabs, then reload.");
    } else {
      setState("reconnecting", "Reconnecting…");
      if (code === GOING_AWAY) {
        // The server is shutting down. The ws extension retries by itself only after 1006 and
        // 1011-1013, so reconnect here, to a process that still runs; the random delay spreads
        // the pages of a whole server over a few seconds. A refused retry closes with 1006, and
        // the extension's own back-off takes over from there.
        var wrapper = event.detail.socketWrapper;
        setTimeout(function () {
          if (document.body.contains(root)) {
            wrapper.reconnect();
          }
        }, GOING_AWAY_DELAY_MS * Math.random());
      }
    }
  });

  // An editor closed without saving gives its lock back at once.
  document.body.addEventListener("htmx:afterSwap", lockChanged);
  document.addEventListener("close", lockChanged, true); // <dialog> close does not bubble

  window.addEventListener("pagehide", function () {
    clearTimeout(lockCheck);
    syncLocks(false); // an editor's lock not yet counted as this page's is given back too
    Object.keys(heldLocks).forEach(release);
  });
})();
