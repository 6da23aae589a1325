// On a phone the filters start folded away, above the products. Filters apply as soon as
// one is ticked. Without JavaScript they stay open and the Apply buttons do it.
if (matchMedia("(max-width: 719px)").matches) {
  document.querySelector(".facets details")?.removeAttribute("open");
}
for (const form of document.querySelectorAll("form[data-autosubmit]")) {
  form.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox], select")) form.requestSubmit();
  });
}
