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
    var values = new FormData(form);
    return Boolean(values.get("q") || values.get("assignee"));
  }

  function apply(html) {
    htmx.swap(document.body, html, { swapStyle: "none" });
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
          htmx.swap(current, fresh.outerHTML, { swapStyle: "outerHTML" });
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
        document.body.dispatchEvent(new CustomEvent("live:resynced", { detail: { seq: lastSeq } }));
      })
      .catch(function () {
        resyncing = false;
        setTimeout(resync, 2000);
      });
  }

  // Returns true when the message was handled here (and must not be swapped by the extension).
  function receive(meta, html) {
    if (meta.kind === "hello") {
      // A reconnect may have missed anything; a first connect only what came after the page.
      if (opened || (meta.seq !== null && meta.seq !== lastSeq)) {
        resync();
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
    }
    return true;
  }

  root.addEventListener("htmx:wsBeforeMessage", function (event) {
    var html = event.detail.message;
    var meta = readMeta(html);
    if (!meta) {
      return; // presence, lock badges: the extension swaps them
    }
    event.preventDefault();
    receive(meta, meta.kind === "change" ? html : null);
  });

  function send(message) {
    if (socket) {
      socket.send(JSON.stringify(message));
    }
  }

  // Edit locks: the server took the lock when it served the editor; while the editor is open the
  // page renews it, and gives it back as soon as the editor goes away.
  function syncLocks(renew) {
    var open = {};
    document.querySelectorAll("[data-edit-lock]").forEach(function (editor) {
      var dialog = editor.closest("dialog");
      if (dialog && !dialog.open) {
        return;
      }
      var taskId = editor.dataset.editLock;
      open[taskId] = true;
      if (renew || !heldLocks[taskId]) {
        send({ type: "lock", task: Number(taskId) });
      }
    });
    Object.keys(heldLocks).forEach(function (taskId) {
      if (!open[taskId]) {
        send({ type: "unlock", task: Number(taskId) });
      }
    });
    heldLocks = open;
  }

  var lockCheck = null;
  function lockChanged() {
    clearTimeout(lockCheck);
    lockCheck = setTimeout(function () {
      syncLocks(false);
    }, 50);
  }

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
      setState("closed", "Live updates paused: reload the page to resume.");
    } else {
      setState("reconnecting", "Reconnecting…");
    }
  });

  // An editor closed without saving gives its lock back at once.
  document.body.addEventListener("htmx:afterSwap", lockChanged);
  document.addEventListener("close", lockChanged, true); // <dialog> close does not bubble

  window.addEventListener("pagehide", function () {
    Object.keys(heldLocks).forEach(function (taskId) {
      send({ type: "unlock", task: Number(taskId) });
    });
  });
})();
