// The process modeler (bpmn-js Modeler, from static/vendor) and its properties panel: what Huiju
// reads in BPMN (lane roles, user-task decisions and properties, service operations and their
// parameters, decision tables, called processes, timers, messages, errors, outcomes, conditions),
// edited as SpiffWorkflow extension elements. "Check" runs the deploy-time checks and marks every
// refused element on the diagram; "Deploy" makes a new version; "Download" saves the XML.
(function () {
  "use strict";
  var box = document.getElementById("modeler");
  var panel = document.getElementById("properties");
  if (!box || !panel || typeof BpmnJS === "undefined") { return; }
  var words = JSON.parse(document.getElementById("modeler-words").textContent);
  var status = document.getElementById("modeler-status");
  var findingsList = document.getElementById("findings");

  // The SpiffWorkflow extension elements Huiju reads, described for bpmn-js's moddle.
  var SPIFF = {
    name: "SpiffWorkflow", prefix: "spiffworkflow", uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    xml: { tagAlias: "lowerCase" }, associations: [],
    types: [
      { name: "Properties", superClass: ["Element"],
        properties: [{ name: "properties", type: "Property", isMany: true }] },
      { name: "Property", superClass: ["Element"],
        properties: [{ name: "name", isAttr: true, type: "String" }, { name: "value", isAttr: true, type: "String" }] },
      { name: "ServiceTaskOperator", superClass: ["Element"],
        properties: [{ name: "id", isAttr: true, type: "String" }, { name: "resultVariable", isAttr: true, type: "String" },
                     { name: "parameters", type: "Parameters" }] },
      { name: "Parameters", superClass: ["Element"],
        properties: [{ name: "parameters", type: "Parameter", isMany: true }] },
      { name: "Parameter", superClass: ["Element"],
        properties: [{ name: "id", isAttr: true, type: "String" }, { name: "type", isAttr: true, type: "String" },
                     { name: "value", isAttr: true, type: "String" }] },
      { name: "CalledDecisionId", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "MessageVariable", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "VariableName", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "MessagePayload", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "InstructionsForEndUser", superClass: ["Element"],
        properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "PreScript", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "PostScript", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "ProcessVariableCorrelation", superClass: ["Element"],
        properties: [{ name: "propertyId", type: "PropertyId" }, { name: "expression", type: "Expression" }] },
      { name: "PropertyId", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "Expression", superClass: ["Element"], properties: [{ name: "value", isBody: true, type: "String" }] },
      { name: "TaskMetadataValues", superClass: ["Element"],
        properties: [{ name: "values", type: "TaskMetadataValue", isMany: true }] },
      { name: "TaskMetadataValue", superClass: ["Element"],
        properties: [{ name: "name", isAttr: true, type: "String" }, { name: "value", isAttr: true, type: "String" }] }
    ]
  };

  var modeler = new BpmnJS({ container: box, moddleExtensions: { spiffworkflow: SPIFF } });
  window.huijuModeler = modeler;
  var modeling = modeler.get("modeling");
  var moddle = modeler.get("moddle");
  var canvas = modeler.get("canvas");
  var registry = modeler.get("elementRegistry");
  var overlays = modeler.get("overlays");
  var palette = { lanes: [], decisions: [], statuses: [], outcomes: [], flags: [], operations: [], processes: [],
                  decision_tables: [] };

  // -- reading and writing extension elements ------------------------------------------------------

  function is(bo, type) { return bo && bo.$instanceOf && bo.$instanceOf(type); }

  function extension(bo, type) {
    var all = bo.extensionElements ? (bo.extensionElements.values || []) : [];
    for (var i = 0; i < all.length; i++) { if (is(all[i], type)) { return all[i]; } }
    return null;
  }

  // ``owner``: the element's own business object by default; a pool's process (its processRef) when given.
  function ensureExtension(element, type, attrs, owner) {
    var bo = owner || element.businessObject;
    var container = bo.extensionElements;
    if (!container) {
      container = moddle.create("bpmn:ExtensionElements", { values: [] });
      container.$parent = bo;
      if (bo === element.businessObject) { modeling.updateProperties(element, { extensionElements: container });
      } else { modeling.updateModdleProperties(element, bo, { extensionElements: container }); }
    }
    var found = extension(bo, type);
    if (!found) {
      found = moddle.create(type, attrs || {});
      found.$parent = container;
      modeling.updateModdleProperties(element, container, { values: (container.values || []).concat([found]) });
    }
    return found;
  }

  function property(bo, name) {
    var props = extension(bo, "spiffworkflow:Properties");
    var list = props ? (props.properties || []) : [];
    for (var i = 0; i < list.length; i++) { if (list[i].name === name) { return list[i].value || ""; } }
    return "";
  }

  function setProperty(element, name, value, owner) {
    var props = ensureExtension(element, "spiffworkflow:Properties", { properties: [] }, owner);
    var list = (props.properties || []).slice();
    var at = list.findIndex(function (p) { return p.name === name; });
    if (value === "" || value === null || value === undefined) {
      if (at >= 0) { list.splice(at, 1); }
    } else if (at >= 0) {
      modeling.updateModdleProperties(element, list[at], { value: String(value) });
      return;
    } else {
      var created = moddle.create("spiffworkflow:Property", { name: name, value: String(value) });
      created.$parent = props;
      list.push(created);
    }
    modeling.updateModdleProperties(element, props, { properties: list });
  }

  function bodyOf(bo, type) { var found = extension(bo, type); return found ? (found.value || "") : ""; }

  function setBody(element, type, value) {
    modeling.updateModdleProperties(element, ensureExtension(element, type, {}), { value: value });
  }

  function definitions() { return canvas.getRootElement().businessObject.$parent; }

  function rootElements(type) {
    return (definitions().rootElements || []).filter(function (e) { return is(e, type); });
  }

  function newRoot(type, attrs) {
    var created = moddle.create(type, attrs);
    created.$parent = definitions();
    definitions().get("rootElements").push(created);
    return created;
  }

  function uid(prefix) { return prefix + "_" + Math.random().toString(36).slice(2, 9); }

  // -- multi-instance loops: their collections, by variable name -----------------------------------
  // SpiffWorkflow names a loop's collections (loopDataInputRef, loopDataOutputRef) by process
  // variable; bpmn-js takes them for references to elements, finds none, and would drop them. They
  // are kept aside here by activity id, edited in the panel, and written back on every save.

  var BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL";
  var LOOP_REFS = ["loopDataInputRef", "loopDataOutputRef"];
  var loops = {};  // activity id -> { loopDataInputRef: "...", loopDataOutputRef: "..." }

  function serialize(doc, original) {  // with the XML declaration it had (not every browser writes it)
    var text = new XMLSerializer().serializeToString(doc);
    var head = /^<\?xml[^>]*\?>\s*/.exec(original);
    return head && !/^<\?xml/.test(text) ? head[0] + text : text;
  }

  function loopCharacteristics(doc) {
    return Array.prototype.slice.call(doc.getElementsByTagNameNS(BPMN_NS, "multiInstanceLoopCharacteristics"));
  }

  function takeLoopRefs(xml) {
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    if (doc.getElementsByTagName("parsererror").length) { return xml; }  // bpmn-js says what is wrong
    var taken = false;
    loopCharacteristics(doc).forEach(function (node) {
      var id = node.parentNode && node.parentNode.getAttribute && node.parentNode.getAttribute("id");
      if (!id) { return; }
      LOOP_REFS.forEach(function (name) {
        Array.prototype.slice.call(node.childNodes).forEach(function (child) {
          if (child.namespaceURI === BPMN_NS && child.localName === name) {
            loops[id] = loops[id] || {};
            loops[id][name] = (child.textContent || "").trim();
            node.removeChild(child);
            taken = true;
          }
        });
      });
    });
    return taken ? serialize(doc, xml) : xml;
  }

  function putLoopRefs(xml) {
    if (!Object.keys(loops).length) { return xml; }
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    loopCharacteristics(doc).forEach(function (node) {
      var kept = loops[node.parentNode.getAttribute("id")];
      if (!kept) { return; }
      // In the schema's order: after loopCardinality, before the data items and the condition.
      var before = Array.prototype.slice.call(node.children).find(function (c) { return c.localName !== "loopCardinality"; });
      var indent = before && before.previousSibling && before.previousSibling.nodeType === 3 ? before.previousSibling.textContent : null;
      LOOP_REFS.forEach(function (name) {
        if (!kept[name]) { return; }
        var made = doc.createElementNS(BPMN_NS, node.prefix ? node.prefix + ":" + name : name);
        made.textContent = kept[name];
        node.insertBefore(made, before || null);
        if (indent && before) { node.insertBefore(doc.createTextNode(indent), before); }
      });
    });
    return serialize(doc, xml);
  }

  // Every save (check, deploy, download, and anyone calling the modeler) writes the collections back.
  var plainSave = modeler.saveXML.bind(modeler);
  modeler.saveXML = function (options) {
    return plainSave(options).then(function (saved) { return { xml: putLoopRefs(saved.xml) }; });
  };

  function loopFields(element, out) {
    var loop = element.businessObject.loopCharacteristics;
    if (!is(loop, "bpmn:MultiInstanceLoopCharacteristics")) { return; }
    var id = element.businessObject.id;
    var kept = loops[id] || {};
    out.push(group(words.loop_input, textInput(kept.loopDataInputRef, function (value) {
      loops[id] = loops[id] || {};
      loops[id].loopDataInputRef = value;
    }), "loop_input"));
    out.push(group(words.loop_output, textInput(kept.loopDataOutputRef, function (value) {
      loops[id] = loops[id] || {};
      loops[id].loopDataOutputRef = value;
    }), "loop_output"));
  }

  // -- the panel's controls ------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function group(label, control, key) {
    var id = "prop-" + key;
    control.id = id;
    control.classList.add("form-control");
    control.setAttribute("data-property", key);
    return el("div", { class: "form-group" }, [el("label", { for: id, text: label }), control]);
  }

  function textInput(value, onChange, multiline) {
    var input = el(multiline ? "textarea" : "input", multiline ? { rows: "2" } : { type: "text" });
    input.value = value || "";
    input.addEventListener("change", function () { onChange(input.value.trim()); });
    return input;
  }

  function select(choices, value, onChange, withNone) {
    var control = el("select");
    if (withNone) { control.appendChild(el("option", { value: "", text: words.none })); }
    choices.forEach(function (c) { control.appendChild(el("option", { value: c.code, text: c.label })); });
    if (value && !choices.some(function (c) { return c.code === value; })) {
      control.appendChild(el("option", { value: value, text: value }));
    }
    control.value = value || "";
    control.addEventListener("change", function () { onChange(control.value); });
    return control;
  }

  function checkbox(label, checked, onChange, key) {
    var input = el("input", { type: "checkbox", "data-property": key, id: "prop-" + key });
    input.checked = !!checked;
    input.addEventListener("change", function () { onChange(input.checked); });
    return el("div", { class: "checkbox" }, [el("label", {}, [input, document.createTextNode(" " + label)])]);
  }

  // -- what each kind of element shows -------------------------------------------------------------

  function laneFields(element, out) {
    var name = element.businessObject.name || "";
    var code = name.split("(")[0].split("（")[0].trim();
    out.push(group(words.role, select(palette.lanes, code, function (value) {
      var lane = palette.lanes.find(function (l) { return l.code === value; });
      modeling.updateLabel(element, lane && lane.zh && lane.zh !== value ? value + " (" + lane.zh + ")" : value);
    }, true), "lane_role"));
  }

  function userTaskFields(element, out) {
    var bo = element.businessObject;
    var chosen = property(bo, "decisions").split(",").map(function (d) { return d.trim(); }).filter(Boolean);
    var boxes = el("div", { class: "form-group", "data-property": "decisions" }, [el("label", { text: words.decisions })]);
    palette.decisions.forEach(function (d) {
      boxes.appendChild(checkbox(d.label, chosen.indexOf(d.code) >= 0, function (on) {
        var now = property(bo, "decisions").split(",").map(function (x) { return x.trim(); }).filter(Boolean);
        now = now.filter(function (x) { return x !== d.code; });
        if (on) { now.push(d.code); }
        setProperty(element, "decisions", now.join(","));
      }, "decision-" + d.code));
    });
    out.push(boxes);
    out.push(group(words.case_status, select(palette.statuses, property(bo, "case_status"), function (value) {
      setProperty(element, "case_status", value);
    }, true), "case_status"));
    palette.flags.forEach(function (flag) {
      out.push(checkbox(flag.label, property(bo, flag.code) === "true", function (on) {
        setProperty(element, flag.code, on ? "true" : "");
      }, flag.code));
    });
    out.push(group(words.assignee_from, textInput(property(bo, "assignee_from"), function (value) {
      setProperty(element, "assignee_from", value);
    }), "assignee_from"));
  }

  function serviceFields(element, out) {
    var bo = element.businessObject;
    var operator = extension(bo, "spiffworkflow:ServiceTaskOperator");
    var code = operator ? operator.id : "";
    out.push(group(words.operation, select(palette.operations, code, function (value) {
      var op = palette.operations.find(function (o) { return o.code === value; });
      var current = extension(bo, "spiffworkflow:ServiceTaskOperator");
      var old = {};
      ((current && current.parameters && current.parameters.parameters) || []).forEach(function (p) { old[p.id] = p.value; });
      var target = ensureExtension(element, "spiffworkflow:ServiceTaskOperator", {});
      var params = moddle.create("spiffworkflow:Parameters", { parameters: [] });
      params.parameters = (op ? op.params : []).map(function (p) {
        var made = moddle.create("spiffworkflow:Parameter", { id: p.name, type: p.type, value: old[p.name] || "" });
        made.$parent = params;
        return made;
      });
      params.$parent = target;
      modeling.updateModdleProperties(element, target, { id: value, parameters: params });
      render(element);
    }, true), "operation"));
    if (!operator) { return; }
    var list = el("div", { class: "form-group", "data-property": "parameters" }, [el("label", { text: words.parameters })]);
    ((operator.parameters && operator.parameters.parameters) || []).forEach(function (p) {
      var input = textInput(p.value, function (value) { modeling.updateModdleProperties(element, p, { value: value }); });
      input.classList.add("form-control");
      input.setAttribute("data-parameter", p.id);
      input.setAttribute("aria-label", p.id);
      list.appendChild(el("div", { class: "param-row" }, [el("code", { text: p.id }), input]));
    });
    out.push(list);
    out.push(group(words.result_variable, textInput(operator.resultVariable, function (value) {
      modeling.updateModdleProperties(element, operator, { resultVariable: value });
    }), "result_variable"));
  }

  function decisionTaskFields(element, out) {
    var bo = element.businessObject;
    var tables = palette.decision_tables.map(function (t) { return { code: t.id, label: t.name + " (" + t.id + ")" }; });
    out.push(group(words.decision_table, select(tables, bodyOf(bo, "spiffworkflow:CalledDecisionId"), function (value) {
      setBody(element, "spiffworkflow:CalledDecisionId", value);
    }, true), "called_decision"));
    out.push(group(words.called_version, textInput(property(bo, "called_version"), function (value) {
      setProperty(element, "called_version", value);
    }), "called_version"));
  }

  function callFields(element, out) {
    var bo = element.businessObject;
    var choices = palette.processes.map(function (p) { return { code: p.id, label: p.name + " (" + p.id + ")" }; });
    out.push(group(words.called_process, select(choices, bo.calledElement, function (value) {
      modeling.updateProperties(element, { calledElement: value || undefined });
    }, true), "called_process"));
    out.push(group(words.called_version, textInput(property(bo, "called_version"), function (value) {
      setProperty(element, "called_version", value);
    }), "called_version"));
  }

  function timerFields(element, definition, out) {
    var kinds = [{ code: "timeDuration", label: words.duration }, { code: "timeDate", label: words.date },
                 { code: "timeCycle", label: words.cycle }];
    var kind = kinds.map(function (k) { return k.code; }).find(function (k) { return definition[k]; }) || "timeDuration";
    var expression = definition[kind] ? definition[kind].body : "";
    function save(newKind, body) {
      var values = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      values[newKind] = moddle.create("bpmn:FormalExpression", { body: body });
      modeling.updateModdleProperties(element, definition, values);
    }
    var kindControl = select(kinds, kind, function (value) { kind = value; save(kind, expression); });
    out.push(group(words.timer, kindControl, "timer_kind"));
    var written = el("p", { class: "help-block", id: "timer-written" });
    var input = textInput(expression, function (value) {
      if (value === expression) { return; }  // as it stands (the text just written for the words, say)
      expression = value;
      save(kind, value);
      written.textContent = "";
      if (kind !== "timeDuration" || !value || value.charAt(0) === '"' || value.charAt(0) === "'") { return; }
      // A length of time as people write it ("2 小时", "3 days", PT2H without its quotes) becomes the
      // ISO 8601 text BPMN reads; anything else stays an expression, as written.
      fetch(box.dataset.duration + "?text=" + encodeURIComponent(value), { credentials: "same-origin" })
        .then(function (reply) { return reply.json(); })
        .then(function (body) {
          if (!body.iso || input.value.trim() !== value) { return; }
          expression = '"' + body.iso + '"';
          input.value = expression;
          save(kind, expression);
          written.textContent = words.timer_written.replace("{written}", value).replace("{iso}", expression);
        });
    });
    var field = group(words.timer, input, "timer_expression");
    field.appendChild(written);
    out.push(field);
    if (element.type === "bpmn:BoundaryEvent") {
      out.push(checkbox(words.interrupting, element.businessObject.cancelActivity !== false, function (on) {
        modeling.updateProperties(element, { cancelActivity: on });
      }, "interrupting"));
    }
  }

  function messageFields(element, holder, out) {
    var choices = rootElements("bpmn:Message").map(function (m) { return { code: m.id, label: m.name || m.id }; });
    choices.push({ code: "__new", label: words.new });
    out.push(group(words.message, select(choices, holder.messageRef ? holder.messageRef.id : "", function (value) {
      var message = rootElements("bpmn:Message").find(function (m) { return m.id === value; });
      if (value === "__new") {
        var name = window.prompt(words.message);
        if (!name) { render(element); return; }
        message = newRoot("bpmn:Message", { id: uid("Message"), name: name });
      }
      if (holder === element.businessObject) { modeling.updateProperties(element, { messageRef: message });
      } else { modeling.updateModdleProperties(element, holder, { messageRef: message }); }
      render(element);
    }, true), "message"));
    out.push(group(words.message_variable, textInput(bodyOf(element.businessObject, "spiffworkflow:MessageVariable"),
      function (value) { setBody(element, "spiffworkflow:MessageVariable", value); }), "message_variable"));
  }

  function errorFields(element, definition, out) {
    var choices = rootElements("bpmn:Error").map(function (e) {
      return { code: e.id, label: (e.name || e.id) + (e.errorCode ? " (" + e.errorCode + ")" : "") };
    });
    choices.push({ code: "__new", label: words.new });
    out.push(group(words.error, select(choices, definition.errorRef ? definition.errorRef.id : "", function (value) {
      var error = rootElements("bpmn:Error").find(function (e) { return e.id === value; });
      if (value === "__new") {
        var code = window.prompt(words.error_code);
        if (!code) { render(element); return; }
        error = newRoot("bpmn:Error", { id: uid("Error"), name: code, errorCode: code });
      }
      modeling.updateModdleProperties(element, definition, { errorRef: error });
      render(element);
    }, true), "error"));
  }

  function eventFields(element, out) {
    var bo = element.businessObject;
    (bo.eventDefinitions || []).forEach(function (definition) {
      if (is(definition, "bpmn:TimerEventDefinition")) { timerFields(element, definition, out); }
      if (is(definition, "bpmn:MessageEventDefinition")) { messageFields(element, definition, out); }
      if (is(definition, "bpmn:ErrorEventDefinition")) { errorFields(element, definition, out); }
    });
    if (element.type === "bpmn:EndEvent") {
      out.push(group(words.outcome, select(palette.outcomes, property(bo, "outcome"), function (value) {
        setProperty(element, "outcome", value);
      }, true), "outcome"));
    }
  }

  function flowFields(element, out) {
    var bo = element.businessObject;
    var source = bo.sourceRef;
    if (!source || !/Gateway$/.test(source.$type)) { return; }
    out.push(group(words.condition, textInput(bo.conditionExpression ? bo.conditionExpression.body : "", function (value) {
      modeling.updateProperties(element, {
        conditionExpression: value ? moddle.create("bpmn:FormalExpression", { body: value }) : undefined
      });
    }, true), "condition"));
  }

  function render(element) {
    panel.innerHTML = "";
    if (!element || element.type === "label") {
      panel.appendChild(el("p", { class: "text-muted", text: words.nothing }));
      return;
    }
    var bo = element.businessObject;
    var out = [el("p", {}, [el("code", { text: bo.id, "data-selected": bo.id })])];
    if (element.type !== "bpmn:Process" && element.type !== "bpmn:Collaboration") {
      out.push(group(words.name, textInput(bo.name, function (value) { modeling.updateLabel(element, value); }), "name"));
    }
    var type = element.type;
    if (!/^bpmn:(Lane|Process|Collaboration|Participant)$/.test(type)) {  // a step or a branch: its English name
      out.push(group(words.name_en, textInput(property(bo, "name_en"), function (value) {
        setProperty(element, "name_en", value);
      }), "name_en"));
    }
    var process = type === "bpmn:Participant" ? bo.processRef : type === "bpmn:Process" ? bo : null;
    if (process) {  // a pool, or the diagram of a process without one: the process's English name
      out.push(group(words.process_name_en, textInput(property(process, "name_en"), function (value) {
        setProperty(element, "name_en", value, process);
      }), "process_name_en"));
    }
    if (type === "bpmn:Lane") { laneFields(element, out); }
    if (type === "bpmn:UserTask" || type === "bpmn:ManualTask") { userTaskFields(element, out); }
    if (type === "bpmn:ServiceTask") { serviceFields(element, out); }
    if (type === "bpmn:BusinessRuleTask") { decisionTaskFields(element, out); }
    if (type === "bpmn:CallActivity") { callFields(element, out); }
    if (type === "bpmn:ReceiveTask" || type === "bpmn:SendTask") { messageFields(element, bo, out); }
    if (/Event$/.test(type)) { eventFields(element, out); }
    if (type === "bpmn:SequenceFlow") { flowFields(element, out); }
    loopFields(element, out);
    out.forEach(function (node) { panel.appendChild(node); });
  }

  modeler.on("selection.changed", function (event) { render(event.newSelection[0]); });

  // -- checking, deploying, downloading ------------------------------------------------------------

  function say(text, kind) {
    status.className = "alert alert-" + (kind || "info");
    status.textContent = text;
  }

  function clearFindings() {
    overlays.remove({ type: "finding" });
    registry.getAll().forEach(function (e) { canvas.removeMarker(e.id, "invalid"); });
    findingsList.innerHTML = "";
  }

  function showFindings(findings) {
    clearFindings();
    findings.forEach(function (finding, index) {
      var target = finding.element && registry.get(finding.element);
      var item = el("li", { "data-element": finding.element || "", text: (index + 1) + ". " + finding.text });
      if (target) {
        canvas.addMarker(target.id, "invalid");
        overlays.add(target.id, "finding", { position: { top: -12, right: 12 },
                                              html: '<span class="finding-overlay">' + (index + 1) + "</span>" });
        item.addEventListener("click", function () {
          modeler.get("selection").select(target);
          canvas.scrollToElement(target);
        });
      }
      findingsList.appendChild(item);
    });
  }

  function send(action) {
    return modeler.saveXML({ format: true }).then(function (saved) {
      return fetch(box.dataset.check, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": box.dataset.csrf },
        body: JSON.stringify({ xml: saved.xml, action: action, process_id: box.dataset.process || null,
                               version: box.dataset.version || null })
      });
    }).then(function (reply) {
      return reply.json().then(function (body) { return body; }, function () {
        throw new Error(reply.status + " " + reply.statusText);
      });
    });
  }

  document.getElementById("check").addEventListener("click", function () {
    say(words.checking);
    send("check").then(function (body) {
      showFindings(body.findings || []);
      if (body.ok) { say(body.message, "success"); } else { say(words.problems, "danger"); }
    }).catch(function (error) { say(words.failed + " " + error, "danger"); });
  });

  document.getElementById("deploy").addEventListener("click", function () {
    if (!window.confirm(words.confirm_deploy)) { return; }
    say(words.deploying);
    send("deploy").then(function (body) {
      showFindings(body.findings || []);
      if (body.ok) {
        say(body.message, "success");
        window.location.assign(body.url);
      } else { say(words.problems, "danger"); }
    }).catch(function (error) { say(words.failed + " " + error, "danger"); });
  });

  document.getElementById("download").addEventListener("click", function () {
    modeler.saveXML({ format: true }).then(function (saved) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([saved.xml], { type: "application/xml" }));
      link.download = box.dataset.file || "process.bpmn";
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  });

  document.getElementById("fit").addEventListener("click", function () { canvas.zoom("fit-viewport", "auto"); });

  // -- loading ---------------------------------------------------------------------------------------

  Promise.all([
    fetch(box.dataset.palette, { credentials: "same-origin" }).then(function (r) { return r.json(); }),
    fetch(box.dataset.src, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(r.status + " " + r.statusText); }
      return r.text();
    })
  ]).then(function (loaded) {
    palette = loaded[0];
    return modeler.importXML(takeLoopRefs(loaded[1]));
  }).then(function (imported) {
    canvas.zoom("fit-viewport", "auto");
    var lost = (imported.warnings || []).map(function (w) { return w.message; });
    if (lost.length) {  // content bpmn-js cannot hold would be lost on saving: say so before anything is deployed
      say(words.lost + " " + lost.join("; "), "warning");
      box.setAttribute("data-warnings", String(lost.length));
    }
    render(null);
    box.setAttribute("data-rendered", "yes");
  }).catch(function (error) {
    say(words.not_valid + " " + error, "danger");
    box.setAttribute("data-rendered", "error");
  });
})();
