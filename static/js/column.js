// "Show all": the rest of a column streamed into it (boards.web.column_all), each chunk of cards
// inserted as it arrives. Without JavaScript the link opens the whole column as a page.
(function () {
  "use strict";

  var BOUNDARY = "<!--chunk-->"; // the server ends each chunk of cards with it

  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function insertCards(list, html) {
    var cards = parse(html.split(BOUNDARY).join(""));
    var added = [];
    Array.prototype.slice.call(cards.children).forEach(function (card) {
      // The live push may have placed a card meanwhile: its copy is newer than the stream's.
      if (card.id && document.getElementById(card.id)) card.remove();
      else added.push(card);
    });
    list.appendChild(cards);
    added.forEach(function (card) {
      htmx.process(card);
    });
    // One load event per chunk, not one per card: drag, the keyboard's roving lists and the edit
    // marks (board.js, keys.js, live.js) take the new cards in.
    htmx.trigger(list, "htmx:load", { elt: list });
    return added;
  }

  function replaceRegion(region, html) {
    var next = parse(html.trim()).firstElementChild;
    if (!next) return;
    region.replaceWith(next);
    htmx.process(next);
  }

  function refuse(link, text) {
    link.classList.remove("loading");
    link.removeAttribute("aria-disabled");
    var message = document.getElementById("board-messages");
    if (message) {
      message.className = "message shown error";
      message.textContent = text;
    }
  }

  function stream(link) {
    var list = document.getElementById(link.dataset.into);
    var region = link.closest(".column-more");
    if (!list || !region || link.classList.contains("loading")) return;
    var hadFocus = document.activeElement === link;
    link.classList.add("loading");
    link.setAttribute("aria-disabled", "true");
    var decoder = new TextDecoder();
    var buffer = "";

    function pump(reader) {
      return reader.read().then(function (step) {
        buffer += decoder.decode(step.value || new Uint8Array(0), { stream: !step.done });
        var end = buffer.lastIndexOf(BOUNDARY);
        if (end >= 0) {
          var added = insertCards(list, buffer.slice(0, end));
          buffer = buffer.slice(end + BOUNDARY.length);
          // The link goes away at the end: the keyboard goes on from the first card it brought.
          if (hadFocus && added.length) {
            hadFocus = false;
            added[0].focus();
          }
        }
        if (step.done) {
          replaceRegion(region, buffer);
          return null;
        }
        return pump(reader);
      });
    }

    fetch(link.dataset.stream, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          return response.text().then(function (text) {
            refuse(link, text.trim() || "The column could not be loaded.");
          });
        }
        return pump(response.body.getReader());
      })
      .catch(function () {
        refuse(link, "The column could not be loaded completely: reload the board to try again.");
      });
  }

  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.more-all[data-stream]");
    if (!link || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (typeof htmx === "undefined" || !window.fetch || !window.TextDecoder) return; // the page instead
    e.preventDefault();
    stream(link);
  });
})();
