// Character counters under fields marked data-count: staff see the length as they type.
document.querySelectorAll("[data-count]").forEach(function (field) {
  var counter = document.createElement("small");
  counter.className = "count";
  field.insertAdjacentElement("afterend", counter);
  function update() { counter.textContent = Array.from(field.value).length + " ký tự"; }
  field.addEventListener("input", update);
  update();
});

// The compose page's live preview: what each chosen channel would send, asked from the server as
// staff type (nothing is saved). Text is put in with textContent, never as HTML.
(function () {
  var box = document.getElementById("live-preview");
  var form = document.getElementById("compose");
  if (!box || !form) { return; }
  var list = box.querySelector(".previews");
  var timer = null;

  function show(previews) {
    list.replaceChildren();
    if (!previews.length) {
      var none = document.createElement("p");
      none.className = "hint";
      none.textContent = "Chưa chọn kênh nào phát được các tiếng đã chọn.";
      list.appendChild(none);
    }
    previews.forEach(function (p) {
      var item = document.createElement("article");
      item.className = "preview";
      var head = document.createElement("h3");
      head.textContent = p.title + " · " + p.language;
      var text = document.createElement("pre");
      text.lang = p.lang;
      text.textContent = p.problem || p.text;
      var count = document.createElement("p");
      var over = p.limit && p.length > p.limit;
      count.className = "count" + (over ? " error" : "");
      count.textContent = p.length + " ký tự" + (p.limit ? " / tối đa " + p.limit : "") + (over ? ": quá dài cho kênh này" : "");
      item.append(head);
      if (p.others && p.others.length) {  // the same text on other channels (a province item's loudspeakers)
        var others = document.createElement("p");
        others.className = "hint";
        others.textContent = p.others.join(", ");
        item.append(others);
      }
      item.append(text, count);
      list.appendChild(item);
    });
  }

  function refresh() {
    var data = new FormData(form);
    Array.from(data.keys()).forEach(function (key) { if (key.indexOf("audio_") === 0) { data.delete(key); } });
    fetch(box.dataset.url, {method: "POST", body: data, headers: {"X-CSRF-Token": box.dataset.csrf},
                            credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer) { show(answer.previews); } });
  }

  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
  form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 100); });
  refresh();
})();

// The header's unit list (province users): choosing a unit shows it at once; the button stays for
// browsers without scripts.
document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});
