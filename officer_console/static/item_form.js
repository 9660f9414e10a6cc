// The item form: rows of required materials added on demand, and a live preview of the portal's
// application form built from the JSON Schema as it is typed (the portal's rules: an enum is a
// list, a boolean two choices, an integer a number, format "date" a date, a long text an area).
(function () {
  "use strict";
  var schemaBox = document.getElementById("form_schema");
  var preview = document.getElementById("form-preview");
  var problem = document.getElementById("schema-problem");
  var english = preview && preview.dataset.locale === "en";
  var words = preview ? JSON.parse(preview.dataset.words) : {};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function title(name, prop) { return (english && prop["x-title-en"]) || prop.title || name; }

  function choiceLabel(prop, value) {
    var labels = (prop["x-enum-labels"] || {})[String(value)];
    if (labels && labels.zh) { return english && labels.en ? labels.en : labels.zh; }
    return String(value);
  }

  function field(name, prop, required) {
    var box = el("div", { class: "field" });
    var label = el("label", { for: "preview-" + name }, title(name, prop));
    if (required) { label.appendChild(el("span", { class: "text-danger" }, " " + words.required)); }
    var control;
    if (Array.isArray(prop.enum)) {
      control = el("select", { id: "preview-" + name });
      control.appendChild(el("option", { value: "" }, words.choose));
      prop.enum.forEach(function (v) { control.appendChild(el("option", { value: String(v) }, choiceLabel(prop, v))); });
    } else if (prop.type === "boolean") {
      control = el("div", { id: "preview-" + name });
      [[true, words.yes], [false, words.no]].forEach(function (pair) {
        var choice = el("label", { class: "radio-inline" });
        choice.appendChild(el("input", { type: "radio", name: "preview-" + name }));
        choice.appendChild(document.createTextNode(" " + pair[1]));
        control.appendChild(choice);
      });
    } else if (prop.type === "integer") {
      control = el("input", { id: "preview-" + name, type: "number", step: "1" });
      if ("minimum" in prop) { control.setAttribute("min", prop.minimum); }
      if ("maximum" in prop) { control.setAttribute("max", prop.maximum); }
    } else if (prop.format === "date") {
      control = el("input", { id: "preview-" + name, type: "date" });
    } else if ((prop.maxLength || 0) > 200) {
      control = el("textarea", { id: "preview-" + name, rows: "4" });
    } else {
      control = el("input", { id: "preview-" + name, type: /phone$/.test(name) ? "tel" : "text" });
    }
    box.appendChild(label);
    box.appendChild(control);
    if (prop.description) { box.appendChild(el("p", { class: "small text-muted" }, String(prop.description))); }
    return box;
  }

  function render() {
    preview.innerHTML = "";
    var schema;
    try { schema = JSON.parse(schemaBox.value); } catch (error) {
      problem.textContent = words.not_json + " " + error.message;
      return;
    }
    problem.textContent = "";
    var props = (schema && schema.properties) || {};
    var required = (schema && schema.required) || [];
    var names = Object.keys(props);
    if (!names.length) { preview.appendChild(el("p", { class: "text-muted" }, words.empty)); }
    names.forEach(function (name) {
      if (props[name] && typeof props[name] === "object") { preview.appendChild(field(name, props[name], required.indexOf(name) >= 0)); }
    });
    preview.setAttribute("data-fields", String(names.length));
  }

  if (schemaBox && preview) {
    schemaBox.addEventListener("input", render);
    render();
  }

  var add = document.getElementById("add-material");
  if (add) {
    add.addEventListener("click", function () {
      var n = Number(add.dataset.next);
      add.dataset.next = String(n + 1);
      var row = el("tr");
      [["code", add.dataset.code], ["name", add.dataset.name], ["name_en", add.dataset.nameEn]].forEach(function (f) {
        var cell = el("td");
        cell.appendChild(el("input", { class: "form-control input-sm", name: "m-" + n + "-" + f[0], "aria-label": f[1] }));
        row.appendChild(cell);
      });
      var last = el("td");
      last.appendChild(el("input", { type: "checkbox", name: "m-" + n + "-required", "aria-label": add.dataset.required }));
      row.appendChild(last);
      document.querySelector("#materials tbody").appendChild(row);
      row.querySelector("input").focus();
    });
  }
})();
