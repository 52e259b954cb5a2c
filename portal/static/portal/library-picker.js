// A search box for every library picker ([data-library-picker]): typing narrows the
// options to the libraries, systems or groups whose name contains the words typed. Without
// script the picker is the same grouped list, only longer. Checked boxes always stay in view.
(() => {
  let counter = 0;
  const normal = (text) => text.normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();

  const enhance = (picker) => {
    if (picker.dataset.libraryPickerReady) return;
    picker.dataset.libraryPickerReady = "1";
    counter += 1;
    const isSelect = picker.tagName === "SELECT";
    const wrap = document.createElement("div");
    wrap.className = "library-search";
    const label = document.createElement("label");
    label.htmlFor = `library-search-${counter}`;
    // The words come from the page, translated on the server.
    label.textContent = picker.dataset.searchLabel || "Find a library";
    const input = document.createElement("input");
    input.type = "search";
    input.id = label.htmlFor;
    input.autocomplete = "off";
    const status = document.createElement("span");
    status.className = "library-search-count";
    status.setAttribute("aria-live", "polite");
    wrap.append(label, input, status);
    picker.before(wrap);

    const groups = isSelect
      ? [...picker.querySelectorAll("optgroup")]
      : [...picker.querySelectorAll("fieldset")];
    const items = (group) =>
      isSelect ? [...group.querySelectorAll("option")] : [...group.querySelectorAll("li")];

    input.addEventListener("input", () => {
      const words = normal(input.value).split(/\s+/).filter(Boolean);
      let shown = 0;
      groups.forEach((group) => {
        const groupName = normal(isSelect ? group.label : group.querySelector("legend")?.textContent || "");
        let any = false;
        items(group).forEach((item) => {
          const text = `${groupName} ${normal(item.textContent)}`;
          const chosen = isSelect ? item.selected : item.querySelector("input")?.checked;
          const match = chosen || words.every((word) => text.includes(word));
          item.hidden = !match;
          if (match) {
            any = true;
            shown += 1;
          }
        });
        group.hidden = !any;
      });
      status.textContent = words.length
        ? (picker.dataset.countLabel || "{n} shown").replace("{n}", shown)
        : "";
    });
  };

  const enhanceAll = () => document.querySelectorAll("[data-library-picker]").forEach(enhance);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhanceAll);
  else enhanceAll();
})();
