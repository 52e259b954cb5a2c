// Gives the admin's rich text editors and tag inputs an accessible name. Wagtail labels
// the hidden input each of them replaces, not the element a person types into
// (wagtail/wagtail#14205), so screen readers announced an unnamed text box.
(() => {
  const unnamed =
    '[role="textbox"][contenteditable="true"]:not([aria-label]):not([aria-labelledby]),' +
    "input.ui-autocomplete-input:not([aria-label]):not([aria-labelledby])";
  let counter = 0;

  const name = (element) => {
    const field = element.closest(".w-field__wrapper, .w-field, [data-field-wrapper]");
    const label = field && field.querySelector("label");
    if (label && label.textContent.trim()) {
      if (!label.id) {
        counter += 1;
        label.id = `concord-a11y-label-${counter}`;
      }
      element.setAttribute("aria-labelledby", label.id);
      return;
    }
    // A rich text block straight in a StreamField has no label: its block header names it.
    const block = element.closest("[data-contentpath]");
    const heading = block && block.querySelector("[data-panel-heading-text], h2, h3");
    element.setAttribute(
      "aria-label",
      (heading && heading.textContent.trim()) || element.getAttribute("placeholder") || "Text",
    );
  };

  const nameAll = () => document.querySelectorAll(unnamed).forEach(name);
  new MutationObserver(nameAll).observe(document.documentElement, {
    childList: true,
    subtree: true,
  });
  document.addEventListener("DOMContentLoaded", nameAll);
})();

// Gives every admin screen a level-one heading. Wagtail's snippet add and edit screens
// (committees, proposals, meetings) show their title only in the breadcrumbs, so a screen
// reader's list of headings started at level two with no name for the screen.
(() => {
  const addHeading = () => {
    if (document.querySelector("h1")) return;
    const main = document.querySelector("main, #main");
    if (!main) return;
    const heading = document.createElement("h1");
    heading.className = "w-sr-only";
    // The document's title is "<screen> - <site>": the screen's name is its first part.
    heading.textContent = document.title.split(" - ")[0].trim() || document.title;
    main.prepend(heading);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", addHeading);
  else addHeading();
})();

// Gives Wagtail's modal dialogs (the choosers) an accessible name. Wagtail's modal
// workflow makes a role="dialog" with no name, so a screen reader announced "dialog" and
// nothing else: the heading the chooser loads into it names it, and until that arrives the
// button that opened it does.
(() => {
  let counter = 0;
  const nameDialogs = () => {
    document.querySelectorAll('.modal[role="dialog"]:not([aria-labelledby])').forEach((dialog) => {
      const heading = dialog.querySelector(".modal-body h1, .modal-body h2");
      if (heading && heading.textContent.trim()) {
        if (!heading.id) {
          counter += 1;
          heading.id = `concord-a11y-dialog-${counter}`;
        }
        dialog.removeAttribute("aria-label");
        dialog.setAttribute("aria-labelledby", heading.id);
      } else if (!dialog.hasAttribute("aria-label")) {
        const opener = document.activeElement;
        const text = opener && opener !== document.body ? opener.textContent.trim() : "";
        dialog.setAttribute("aria-label", text || document.title.split(" - ")[0].trim());
      }
    });
  };
  new MutationObserver(nameDialogs).observe(document.documentElement, {
    childList: true,
    subtree: true,
  });
})();
