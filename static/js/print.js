// A button marked data-print prints the page (the packing slip's "Print").
for (const button of document.querySelectorAll("button[data-print]")) {
  button.addEventListener("click", () => window.print());
}
