// The annotation page (/ui/label/queues/...): class buttons, keyboard shortcuts, time spent.
// Keys: 1-9, 0 pick the first ten classes; Enter accepts the pre-label; s skips; h tags hard.
(function () {
  "use strict";
  var form = document.getElementById("label-form");
  if (!form) { return; }
  var started = Date.now();
  var sent = false;

  function send(label, action) {
    if (sent) { return; }
    sent = true;
    document.getElementById("label-value").value = label;
    document.getElementById("action-value").value = action;
    document.getElementById("duration").value = ((Date.now() - started) / 1000).toFixed(1);
    form.submit();
  }

  form.querySelectorAll(".label-choice").forEach(function (button) {
    button.addEventListener("click", function () {
      var free = document.getElementById("free-label");
      send(free ? free.value : button.getAttribute("data-label"), "submit");
    });
  });
  document.getElementById("skip").addEventListener("click", function () { send("", "skip"); });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target && target.id === "note" && event.key === "Enter") {
      event.preventDefault();  // a hard item may go without a label
      send("", "submit");
      return;
    }
    if (target && (target.tagName === "INPUT" && target.type === "text")) { return; }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key;
    if (key === "Enter") {
      var pre = form.getAttribute("data-prelabel");
      if (pre) { event.preventDefault(); send(pre, "submit"); }
      return;
    }
    if (key === "s") { event.preventDefault(); send("", "skip"); return; }
    if (key === "h") {
      event.preventDefault();
      var hard = document.getElementById("hard");
      hard.checked = !hard.checked;
      document.getElementById("note").focus();
      return;
    }
    var button = form.querySelector('.label-choice[data-key="' + key + '"]');
    if (button) { event.preventDefault(); button.click(); }
  });
})();
