// @mentions: in a textarea with data-mentions (its value: the board's members endpoint), typing
// @ and the start of a name offers up to 10 members of the workspace in a listbox under it.
// Arrow keys move through it, Enter or Tab picks, Escape closes; the textarea keeps the focus
// and names the highlighted choice with aria-activedescendant. One set of listeners on the
// document, so textareas that htmx swaps in later work too. No inline script (CSP: 'self').
(function () {
  "use strict";

  var TYPED = /(^|[^\w@.+-])@([\w.+-]{1,150})$/;
  var WAIT_MS = 120;
  var state = null; // {textarea, list, start, items, active, request, timer}
  var counter = 0;

  function typed(textarea) {
    if (textarea.selectionStart !== textarea.selectionEnd) {
      return null;
    }
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = TYPED.exec(before.slice(-160));
    if (!match) {
      return null;
    }
    return { prefix: match[2], start: textarea.selectionStart - match[2].length - 1 };
  }

  function close() {
    if (!state) {
      return;
    }
    clearTimeout(state.timer);
    if (state.list.parentNode) {
      state.list.parentNode.removeChild(state.list);
    }
    state.textarea.removeAttribute("aria-activedescendant");
    state.textarea.removeAttribute("aria-controls");
    state = null;
  }

  function open(textarea) {
    if (state && state.textarea === textarea) {
      return state;
    }
    close();
    counter += 1;
    var list = document.createElement("ul");
    list.id = "mention-list-" + counter;
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "People to mention");
    list.hidden = true;
    textarea.insertAdjacentElement("afterend", list);
    textarea.setAttribute("aria-autocomplete", "list");
    textarea.setAttribute("aria-controls", list.id);
    state = { textarea: textarea, list: list, start: 0, items: [], active: -1, serial: 0, timer: null };
    return state;
  }

  function highlight(index) {
    state.active = index;
    state.items.forEach(function (item, position) {
      item.setAttribute("aria-selected", position === index ? "true" : "false");
    });
    if (index >= 0) {
      state.textarea.setAttribute("aria-activedescendant", state.items[index].id);
      state.items[index].scrollIntoView({ block: "nearest" });
    } else {
      state.textarea.removeAttribute("aria-activedescendant");
    }
  }

  function show(members) {
    var list = state.list;
    list.textContent = "";
    state.items = members.map(function (member, position) {
      var item = document.createElement("li");
      item.id = list.id + "-" + position;
      item.setAttribute("role", "option");
      item.dataset.username = member.username;
      var name = document.createElement("b");
      name.textContent = member.name;
      var handle = document.createElement("span");
      handle.className = "hint";
      handle.textContent = " @" + member.username;
      item.appendChild(name);
      item.appendChild(handle);
      list.appendChild(item);
      return item;
    });
    list.hidden = members.length === 0;
    highlight(members.length ? 0 : -1);
  }

  function fetchMembers(current, prefix) {
    current.serial += 1;
    var serial = current.serial;
    var url = current.textarea.dataset.mentions + "?q=" + encodeURIComponent(prefix);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : { members: [] };
      })
      .then(function (data) {
        if (state === current && serial === current.serial) {
          show(data.members || []);
        }
      })
      .catch(function () {});
  }

  function pick(index) {
    var item = state.items[index];
    if (!item) {
      return;
    }
    var textarea = state.textarea;
    var end = textarea.selectionStart;
    var inserted = "@" + item.dataset.username + " ";
    textarea.setRangeText(inserted, state.start, end, "end");
    close();
    textarea.focus();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("input", function (event) {
    var textarea = event.target;
    if (!(textarea instanceof HTMLTextAreaElement) || !textarea.dataset.mentions) {
      return;
    }
    var found = typed(textarea);
    if (!found) {
      if (state && state.textarea === textarea) {
        close();
      }
      return;
    }
    var current = open(textarea);
    current.start = found.start;
    clearTimeout(current.timer);
    current.timer = setTimeout(function () {
      fetchMembers(current, found.prefix);
    }, WAIT_MS);
  });

  document.addEventListener("keydown", function (event) {
    if (!state || event.target !== state.textarea || state.list.hidden) {
      return;
    }
    var count = state.items.length;
    if (event.key === "ArrowDown") {
      highlight((state.active + 1) % count);
    } else if (event.key === "ArrowUp") {
      highlight((state.active - 1 + count) % count);
    } else if ((event.key === "Enter" || event.key === "Tab") && state.active >= 0) {
      pick(state.active);
    } else if (event.key === "Escape") {
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation(); // Escape closes the list, not the card dialog
  }, true);

  // mousedown, not click: the textarea keeps the focus (and its caret) while the choice is made.
  document.addEventListener("mousedown", function (event) {
    if (!state) {
      return;
    }
    var item = event.target.closest ? event.target.closest(".mention-list [role=option]") : null;
    if (item && state.list.contains(item)) {
      event.preventDefault();
      pick(state.items.indexOf(item));
    } else if (event.target !== state.textarea) {
      close();
    }
  });

  document.addEventListener("focusout", function (event) {
    if (state && event.target === state.textarea) {
      setTimeout(function () {
        if (state && document.activeElement !== state.textarea) {
          close();
        }
      }, 0);
    }
  });
})();
