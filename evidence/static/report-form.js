// Report form: show the Goodman-Baron fieldset only while the indication is acne scars.
// Without JavaScript the fieldset always shows and the server refuses a grade given for
// another indication; a fieldset holding a grade or an error is never hidden, so nothing
// typed disappears from view.
(function () {
  "use strict";
  var box = document.getElementById("goodman-baron");
  var indication = document.getElementById("indication");
  if (!box || !indication) { return; }
  var wanted = box.getAttribute("data-indication");
  var selects = box.querySelectorAll("select");

  function filled() {
    for (var i = 0; i < selects.length; i += 1) {
      if (selects[i].value) { return true; }
    }
    return box.querySelector(".error") !== null;
  }
  function update() {
    box.hidden = indication.value !== wanted && !filled();
  }
  indication.addEventListener("change", update);
  update();
}());
