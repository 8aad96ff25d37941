// Character counters under fields marked data-count: staff see the length as they type.
document.querySelectorAll("[data-count]").forEach(function (field) {
  var counter = document.createElement("small");
  counter.className = "count";
  field.insertAdjacentElement("afterend", counter);
  function update() { counter.textContent = Array.from(field.value).length + " ký tự"; }
  field.addEventListener("input", update);
  update();
});
