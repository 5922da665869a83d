/* The escalation rule form's row-by-row editor: progressive enhancement over the JSON textareas.

   Each textarea (conditions, actions) is hidden behind rows of selects and inputs, and the rows write the JSON back
   into it on every change, so the form posts exactly what the server validates. The catalogue of fields, operators
   and actions comes from the page (json_script), built from recovery/rules.py. Without JavaScript, or when the JSON
   cannot be shown as rows, the textarea stays as it is and a note says why. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-rule-builder]");
  var source = form && document.getElementById(form.getAttribute("data-rule-builder"));
  if (!source) return;
  var catalogue = JSON.parse(source.textContent);
  var LIST_OPERATORS = ["in", "not_in"];
  var NUMBER_KINDS = ["int", "float", "decimal"];

  // A list the rows cannot show; the message says where and why.
  function Unshowable(message) {
    this.message = message;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (key === "text") node.textContent = value;
      else if (value === true) node.setAttribute(key, "");
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
    });
    (children || []).forEach(function (child) {
      node.append(child);
    });
    return node;
  }

  // options: [[code, label], ...]; with a placeholder, nothing is chosen until someone chooses.
  function select(attrs, options, value, placeholder) {
    var node = el("select", attrs);
    if (placeholder) node.append(el("option", { value: "", text: placeholder }));
    options.forEach(function (pair) {
      node.append(el("option", { value: pair[0], text: pair[1] }));
    });
    if (value !== undefined && value !== null) node.value = String(value);
    return node;
  }

  function shown(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  function codes(pairs) {
    return pairs.map(function (pair) {
      return pair[0];
    });
  }

  function isList(operator) {
    return LIST_OPERATORS.indexOf(operator) >= 0;
  }

  function isObject(item) {
    return item !== null && typeof item === "object" && !Array.isArray(item);
  }

  function onlyKeys(item, allowed, where) {
    Object.keys(item).forEach(function (key) {
      if (allowed.indexOf(key) < 0) throw new Unshowable(where + " has an unknown key, " + JSON.stringify(key));
    });
  }

  function text(value) {
    var trimmed = value.trim();
    return trimmed === "" ? undefined : trimmed;
  }

  // "4, 5" -> [4, 5]; anything that is not a number is posted as typed, for the server to name.
  function numbers(value) {
    return value
      .split(/[\s,;]+/)
      .filter(Boolean)
      .map(function (token) {
        return isFinite(Number(token)) ? Number(token) : token;
      });
  }

  // --- conditions ------------------------------------------------------------------------------

  function fitsScalar(spec, value) {
    switch (spec.kind) {
      case "choice":
        return codes(spec.choices).indexOf(value) >= 0;
      case "bool":
        return typeof value === "boolean";
      case "int":
      case "float":
        return typeof value === "number";
      case "decimal":
        return (typeof value === "number" || typeof value === "string") && value !== "" && isFinite(Number(value));
    }
    return typeof value === "string";
  }

  function checkCondition(item, where) {
    if (!isObject(item)) throw new Unshowable(where + " is not an object with a field, an operator and a value");
    onlyKeys(item, ["field", "operator", "value"], where);
    var spec = catalogue.fields[item.field];
    if (!spec) throw new Unshowable(where + " tests an unknown field, " + JSON.stringify(item.field));
    if (spec.operators.indexOf(item.operator) < 0) {
      var operator = JSON.stringify(item.operator);
      throw new Unshowable(where + " uses the operator " + operator + ", which " + spec.label + " does not take");
    }
    if (!("value" in item)) return;
    var value = item.value;
    var fits = !isList(item.operator)
      ? fitsScalar(spec, value)
      : Array.isArray(value) &&
        value.every(function (one) {
          return spec.kind === "choice" ? fitsScalar(spec, one) : typeof one === "number" || typeof one === "string";
        });
    if (!fits) throw new Unshowable(where + " has a value the rows cannot show: " + JSON.stringify(value));
  }

  // The value control for a field and operator, and how to read it back (undefined: no value given).
  function conditionValue(spec, operator, value) {
    if (isList(operator) && spec.kind === "choice") {
      var chosen = Array.isArray(value) ? value : [];
      var group = el(
        "div",
        { role: "group", class: "rb-choices", "data-label": "values" },
        spec.choices.map(function (pair) {
          var box = el("input", { type: "checkbox", value: pair[0], checked: chosen.indexOf(pair[0]) >= 0 });
          return el("label", { class: "check" }, [box, pair[1]]);
        })
      );
      return {
        node: group,
        read: function () {
          return Array.from(group.querySelectorAll("input:checked"), function (box) {
            return box.value;
          });
        },
      };
    }
    if (isList(operator)) {
      var joined = Array.isArray(value) ? value.join(", ") : "";
      var list = el("input", { type: "text", "data-label": "values", placeholder: "e.g. 4, 5", value: joined });
      return { node: list, read: function () { return numbers(list.value); } };
    }
    if (spec.kind === "choice" || spec.kind === "bool") {
      var options = spec.kind === "bool" ? [["true", "yes"], ["false", "no"]] : spec.choices;
      var choice = select({ "data-label": "value" }, options, value, "Choose…");
      return {
        node: choice,
        read: function () {
          if (choice.value === "") return undefined;
          return spec.kind === "bool" ? choice.value === "true" : choice.value;
        },
      };
    }
    if (NUMBER_KINDS.indexOf(spec.kind) >= 0) {
      var step = spec.kind === "int" ? "1" : "any";
      var number = el("input", { type: "number", step: step, "data-label": "value", value: shown(value) });
      return {
        node: number,
        read: function () {
          if (number.value === "") return undefined;
          // Amounts stay text, as the server stores them, so 0.1 stays 0.1.
          return spec.kind === "decimal" ? number.value : Number(number.value);
        },
      };
    }
    var tag = el("input", { type: "text", "data-label": "value", placeholder: "e.g. vip", value: shown(value) });
    return { node: tag, read: function () { return text(tag.value); } };
  }

  function conditionRow(item) {
    var fieldNames = Object.keys(catalogue.fields);
    var fieldOptions = fieldNames.map(function (name) {
      return [name, catalogue.fields[name].label];
    });
    var field = select({ "data-label": "field" }, fieldOptions, item.field);
    var operator = el("select", { "data-label": "operator" });
    var slot = el("span", { class: "rb-value" });
    var row = rowShell([field, operator, slot]);
    var control;

    function setOperators(wanted) {
      var spec = catalogue.fields[field.value];
      operator.replaceChildren();
      spec.operators.forEach(function (code) {
        operator.append(el("option", { value: code, text: catalogue.operators[code] || code }));
      });
      operator.value = spec.operators.indexOf(wanted) >= 0 ? wanted : spec.operators[0];
    }
    function setValue(value) {
      control = conditionValue(catalogue.fields[field.value], operator.value, value);
      slot.replaceChildren(control.node);
    }

    setOperators(item.operator);
    setValue(item.value);
    field.addEventListener("change", function () {
      setOperators(operator.value);
      setValue(undefined);
    });
    operator.addEventListener("change", function () {
      // Keep what was chosen: "is bad" becomes "is one of [bad]", and back.
      var value = control.read();
      if (isList(operator.value) && value !== undefined && !Array.isArray(value)) value = [value];
      if (!isList(operator.value) && Array.isArray(value)) value = value[0];
      setValue(value);
    });
    row.read = function () {
      var out = { field: field.value, operator: operator.value };
      var value = control.read();
      if (value !== undefined) out.value = value;
      return out;
    };
    return row;
  }

  // --- actions ---------------------------------------------------------------------------------

  function checkAction(item, where) {
    if (!isObject(item)) throw new Unshowable(where + " is not an object with a type and a value");
    onlyKeys(item, ["type", "value"], where);
    var spec = catalogue.actions[item.type];
    if (!spec) throw new Unshowable(where + " has an unknown type, " + JSON.stringify(item.type));
    var value = item.value;
    if (value === undefined || value === null) return;
    var fits = {
      choice: codes(spec.choices).indexOf(value) >= 0,
      hours: typeof value === "number",
      tag: typeof value === "string",
      none: false,
    }[spec.value];
    if (!fits) throw new Unshowable(where + " has a value the rows cannot show: " + JSON.stringify(value));
  }

  function actionValue(spec, value) {
    if (spec.value === "choice") {
      var choice = select({ "data-label": "value" }, spec.choices, value, "Choose…");
      return { node: choice, read: function () { return choice.value || undefined; } };
    }
    if (spec.value === "hours") {
      var hours = el("input", { type: "number", min: "0", step: "any", "data-label": "hours", value: shown(value) });
      return {
        node: el("span", { class: "rb-unit" }, [hours, el("span", { "aria-hidden": "true", text: "hours" })]),
        read: function () { return hours.value === "" ? undefined : Number(hours.value); },
      };
    }
    if (spec.value === "tag") {
      var tag = el("input", { type: "text", maxlength: spec.max_length, "data-label": "tag", value: shown(value) });
      tag.placeholder = "e.g. " + spec.example;
      return { node: tag, read: function () { return text(tag.value); } };
    }
    var none = el("span", { class: "muted small", text: "no value needed" });
    return { node: none, read: function () { return undefined; } };
  }

  function actionRow(item) {
    var types = Object.keys(catalogue.actions);
    var typeOptions = types.map(function (code) {
      return [code, catalogue.actions[code].label];
    });
    var type = select({ "data-label": "type" }, typeOptions, item.type);
    var slot = el("span", { class: "rb-value" });
    var row = rowShell([type, slot]);
    var control;

    function setValue(value) {
      control = actionValue(catalogue.actions[type.value], value);
      slot.replaceChildren(control.node);
    }

    setValue(item.value);
    type.addEventListener("change", function () {
      setValue(undefined);
    });
    row.read = function () {
      var out = { type: type.value };
      var value = control.read();
      if (value !== undefined) out.value = value;
      return out;
    };
    return row;
  }

  // --- one builder per textarea ----------------------------------------------------------------

  var KINDS = {
    conditions: {
      noun: "condition",
      add: "Add a condition",
      check: checkCondition,
      row: conditionRow,
      blank: function () {
        var name = Object.keys(catalogue.fields)[0];
        return { field: name, operator: catalogue.fields[name].operators[0] };
      },
    },
    actions: {
      noun: "action",
      add: "Add an action",
      check: checkAction,
      row: actionRow,
      blank: function () {
        return { type: Object.keys(catalogue.actions)[0] };
      },
    },
  };

  function rowShell(controls) {
    var remove = el("button", { type: "button", class: "button subtle rb-remove", text: "Remove" });
    return el("li", { class: "rb-row" }, [el("div", { class: "rb-controls" }, controls), remove]);
  }

  function capitalised(word) {
    return word.charAt(0).toUpperCase() + word.slice(1);
  }

  function load(value, kind) {
    var items;
    try {
      items = JSON.parse(value.trim() || "[]");
    } catch (error) {
      throw new Unshowable("they are not valid JSON");
    }
    if (!Array.isArray(items)) throw new Unshowable("they are not a JSON list");
    items.forEach(function (item, index) {
      kind.check(item, capitalised(kind.noun) + " " + (index + 1));
    });
    return items;
  }

  function enhance(name, kind) {
    var textarea = form.querySelector("textarea[name='" + name + "']");
    if (!textarea) return;
    var box = textarea.closest(".field") || textarea.parentNode;
    var help = box.querySelector(".help");
    var items;
    try {
      items = load(textarea.value, kind);
    } catch (problem) {
      if (!(problem instanceof Unshowable)) throw problem;
      var note = "The " + name + " cannot be edited row by row: " + problem.message + ". Edit the JSON below.";
      textarea.before(el("p", { class: "rb-note", text: note }));
      return;
    }

    var label = box.querySelector("label[for='" + textarea.id + "']");
    if (label) label.id = label.id || textarea.id + "-label";
    var rows = el("ol", { class: "rb-rows" });
    var add = el("button", { type: "button", class: "button", text: kind.add });
    var asJson = el("button", { type: "button", class: "button subtle", text: "Edit as JSON" });
    var status = el("p", { class: "visually-hidden", "aria-live": "polite" });
    var builder = el("div", { class: "rb", role: "group", "aria-labelledby": label && label.id }, [
      rows,
      el("div", { class: "rb-tools" }, [add, asJson]),
      status,
    ]);
    // "All" or "any" belongs to the conditions: show it at their head.
    var match = name === "conditions" && form.querySelector("select[name='match']");
    var matchBox = match && match.closest(".field");
    if (matchBox) builder.prepend(matchBox);

    function renumber() {
      Array.from(rows.children).forEach(function (row, index) {
        var title = capitalised(kind.noun) + " " + (index + 1);
        row.querySelectorAll("[data-label]").forEach(function (control) {
          control.setAttribute("aria-label", title + " " + control.getAttribute("data-label"));
        });
        row.querySelector(".rb-remove").setAttribute("aria-label", "Remove " + kind.noun + " " + (index + 1));
      });
    }
    function write() {
      renumber();
      var list = Array.from(rows.children, function (row) {
        return row.read();
      });
      textarea.value = JSON.stringify(list, null, 2);
    }
    function focusFirst(row) {
      row.querySelector("select, input").focus();
    }

    items.forEach(function (item) {
      rows.append(kind.row(item));
    });
    renumber();
    textarea.hidden = true;
    if (help) help.hidden = true;
    textarea.after(builder);

    builder.addEventListener("input", write);
    builder.addEventListener("change", write);
    add.addEventListener("click", function () {
      var row = kind.row(kind.blank());
      rows.append(row);
      write();
      status.textContent = capitalised(kind.noun) + " " + rows.children.length + " added.";
      focusFirst(row);
    });
    rows.addEventListener("click", function (event) {
      var remove = event.target.closest(".rb-remove");
      if (!remove) return;
      var row = remove.closest(".rb-row");
      var index = Array.from(rows.children).indexOf(row);
      row.remove();
      write();
      status.textContent = capitalised(kind.noun) + " " + (index + 1) + " removed.";
      var next = rows.children[index] || rows.children[index - 1];
      if (next) focusFirst(next);
      else add.focus();
    });
    asJson.addEventListener("click", function () {
      if (matchBox) box.before(matchBox);
      builder.remove();
      textarea.hidden = false;
      if (help) help.hidden = false;
      textarea.focus();
    });
  }

  enhance("conditions", KINDS.conditions);
  enhance("actions", KINDS.actions);
})();
