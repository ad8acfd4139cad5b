// Runs in <head> before the page paints: apply the saved dark/light choice (else the system's).
(function () {
  try {
    var saved = localStorage.getItem("flywheel-theme");
    if (saved === "dark" || saved === "light") document.documentElement.dataset.theme = saved;
  } catch (e) { /* storage blocked: follow the system setting */ }
})();
