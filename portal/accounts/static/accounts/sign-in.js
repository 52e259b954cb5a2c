// Email first: when the typed address belongs to a library whose identity provider signs
// its people in, the password is not asked for and the button says where it leads. Without
// this script the page still works: the server sends such an address to its provider.
(function () {
  const form = document.querySelector("form[data-library-sign-in]");
  const domains = JSON.parse(document.getElementById("library-sign-in-domains")?.textContent || "{}");
  if (!form) return;
  const email = form.querySelector("#id_login");
  const password = form.querySelector("#id_password");
  const button = form.querySelector("button[type=submit]");
  const note = document.getElementById("library-sign-in-note");
  const asked = [password, form.querySelector("#id_remember")]
    .filter(Boolean)
    .map((input) => input.closest(".field") || input);
  const signInLabel = button.textContent;

  function update() {
    const domain = (email.value.split("@")[1] || "").trim().toLowerCase();
    const provider = domains[domain];
    asked.forEach((field) => (field.hidden = Boolean(provider)));
    password.required = false;
    button.textContent = provider
      ? form.dataset.continueLabel.replace("{provider}", provider)
      : signInLabel;
    note.hidden = !provider;
    note.textContent = provider ? form.dataset.noteLabel.replace("{provider}", provider) : "";
  }
  email.addEventListener("input", update);
  update();
})();
