// The proposal form does not offer a secret ballot for ranked choice: the box is unticked
// and disabled while "Ranked choice" is chosen, with the reason beside it (the form
// refuses the combination too, for browsers without script).
document.addEventListener("DOMContentLoaded", () => {
  const kind = document.querySelector('select[name="kind"]');
  const secret = document.querySelector('input[name="secret"]');
  if (!kind || !secret || secret.disabled) return;
  // A ranked secret vote from before sealing keeps its (locked) setting as it is.
  if (kind.value === "ranked" && secret.checked) return;
  const note = document.createElement("p");
  note.className = "help secret-not-for-ranked";
  note.textContent =
    "A ranked-choice ballot cannot be secret: its count needs every whole ranking, " +
    "and a secret ballot is only ever decrypted as totals.";
  secret.closest("div")?.after(note);
  const sync = () => {
    const ranked = kind.value === "ranked";
    if (ranked) secret.checked = false;
    secret.disabled = ranked;
    note.hidden = !ranked;
  };
  kind.addEventListener("change", sync);
  sync();
});
