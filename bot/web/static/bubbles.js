// The bot's messages as Telegram shows them, for the staff preview and the public web chat alike.
// Reply HTML comes sanitized from the server (bot/web/render.py: Telegram's formatting tags only, all
// text escaped); button labels and anything a person typed are put in the page as text, never markup.
"use strict";

const Bubbles = (() => {
  /**
   * One bot message as an <article>: its text, then its buttons.
   * labels: {buttons, showMore, showLess}; onPress(callbackData) is called when a button is pressed.
   */
  function reply(shown, labels, onPress) {
    const article = document.createElement("article");
    article.className = "message bot";
    article.tabIndex = -1;
    const text = document.createElement("div");
    text.className = "text";
    text.innerHTML = shown.html; // sanitized by the server: only Telegram's formatting tags
    enhance(text, labels);
    article.append(text);
    if (shown.buttons.length) article.append(keyboard(shown.buttons, labels, onPress));
    return article;
  }

  function keyboard(rows, labels, onPress) {
    const box = document.createElement("div");
    box.className = "keyboard";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", labels.buttons);
    for (const row of rows) {
      const line = document.createElement("div");
      line.className = "row";
      for (const button of row) line.append(key(button, onPress));
      box.append(line);
    }
    return box;
  }

  function key(button, onPress) {
    if (button.url !== undefined) {
      const link = document.createElement("a");
      link.className = "key link";
      link.textContent = button.text;
      if (/^(https?|tg):\/\//i.test(button.url)) link.href = button.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      return link;
    }
    const element = document.createElement("button");
    element.type = "button";
    element.className = "key";
    element.textContent = button.text;
    element.addEventListener("click", () => onPress(button.callback));
    return element;
  }

  /** Spoilers reveal and long quotes expand, by mouse or keyboard, as in Telegram. */
  function enhance(text, labels) {
    for (const spoiler of text.querySelectorAll(".tg-spoiler")) {
      spoiler.tabIndex = 0;
      spoiler.setAttribute("role", "button");
      spoiler.setAttribute("aria-pressed", "false");
      const reveal = () => {
        spoiler.classList.add("revealed");
        spoiler.setAttribute("aria-pressed", "true");
      };
      spoiler.addEventListener("click", reveal);
      spoiler.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          reveal();
        }
      });
    }
    for (const quote of text.querySelectorAll("blockquote.tg-expandable")) {
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "expand";
      toggle.textContent = labels.showMore;
      toggle.setAttribute("aria-expanded", "false");
      toggle.addEventListener("click", () => {
        const open = quote.classList.toggle("open");
        toggle.setAttribute("aria-expanded", String(open));
        toggle.textContent = open ? labels.showLess : labels.showMore;
      });
      quote.after(toggle);
    }
  }

  return { reply };
})();
