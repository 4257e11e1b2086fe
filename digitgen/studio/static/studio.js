"use strict";
// digitgen studio: builds the controls from /api/options, asks the API on every change, shows the answer.
(function () {
  const $ = (id) => document.getElementById(id);
  let schema = null;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value; else if (value !== undefined && value !== null) node.setAttribute(key, value);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function fillSelect(select, values, chosen, labels) {
    select.innerHTML = "";
    values.forEach((value, i) => {
      const option = el("option", { value: String(value), text: labels ? labels[i] : String(value) });
      if (String(value) === String(chosen)) option.selected = true;
      select.appendChild(option);
    });
  }

  // ------------------------------------------------------------------ controls generated from the params rules

  function numberInput(desc, value) {
    const input = el("input", { type: "number", value: String(value) });
    input.step = desc.kind === "integer" ? "1" : "any";
    if (desc.min !== null && desc.min !== undefined) input.min = String(desc.min);
    if (desc.max !== null && desc.max !== undefined) input.max = String(desc.max);
    return input;
  }

  // A control for one option: returns {node, read()} where read() gives the text the API parses ("" = default).
  function control(option) {
    const label = option.name.split(".").pop();
    const title = option.name + ": " + option.allowed;
    let node, read;
    if (option.kind === "choice") {
      const select = el("select", { "data-option": option.name });
      fillSelect(select, option.choices, option.default);
      node = el("label", { title: title }, [document.createTextNode(label), select]);
      read = () => select.value;
    } else if (option.kind === "boolean") {
      const box = el("input", { type: "checkbox", "data-option": option.name });
      box.checked = !!option.default;
      node = el("label", { class: "check", title: title }, [box, document.createTextNode(label)]);
      read = () => (box.checked ? "true" : "false");
    } else if (option.kind === "multi") {
      const boxes = option.choices.map((choice) => {
        const box = el("input", { type: "checkbox", value: choice });
        box.checked = (option.default || []).includes(choice);
        return box;
      });
      const group = el("span", { class: "multi", "data-option": option.name },
        boxes.map((box) => el("label", {}, [box, document.createTextNode(box.value)])));
      node = el("label", { title: title }, [document.createTextNode(label), group]);
      read = () => boxes.filter((b) => b.checked).map((b) => b.value).join(",");
    } else if (option.kind === "list" && option.max_length === option.min_length && option.item && (option.item.kind === "number" || option.item.kind === "integer")) {
      const inputs = (option.default || []).map((v) => numberInput(option.item, v));
      const group = el("span", { class: "pair", "data-option": option.name }, inputs);
      node = el("label", { title: title }, [document.createTextNode(label + (inputs.length === 2 ? " [min, max]" : "")), group]);
      read = () => inputs.map((i) => i.value.trim()).join(",");
    } else if (option.kind === "integer" || option.kind === "number") {
      const input = numberInput(option, option.default === null ? "" : option.default);
      input.setAttribute("data-option", option.name);
      node = el("label", { title: title }, [document.createTextNode(label), input]);
      read = () => input.value.trim();
    } else {
      const input = el("input", { type: "text", value: option.default === null ? "" : String(option.default), "data-option": option.name });
      node = el("label", { title: title }, [document.createTextNode(label), input]);
      read = () => input.value.trim();
    }
    const initial = read();
    return { option: option, node: node, read: read, changed: () => read() !== initial };
  }

  // Options grouped in fieldsets by their parent key (degrade.blur.p -> "degrade.blur").
  function buildOptions(container, options, skip) {
    const groups = new Map();
    const controls = [];
    for (const option of options) {
      if (skip.includes(option.name)) continue;
      const parts = option.name.split(".");
      const group = parts.length > 1 ? parts.slice(0, -1).join(".") : "";
      if (!groups.has(group)) {
        const fieldset = el("fieldset", {}, group ? [el("legend", { text: group })] : []);
        groups.set(group, fieldset);
        container.appendChild(fieldset);
      }
      const made = control(option);
      groups.get(group).appendChild(made.node);
      controls.push(made);
    }
    return controls;
  }

  function changedParams(controls, params) {
    for (const c of controls) if (c.changed()) params.set(c.option.name, c.read());
  }

  // ------------------------------------------------------------------ requests

  const pending = {};
  function schedule(panel, run) {
    clearTimeout(pending[panel]);
    pending[panel] = setTimeout(run, 120);
  }

  const latest = {};
  async function ask(panel, url) {
    const ticket = (latest[panel] = (latest[panel] || 0) + 1);
    const box = $(panel + "-error");
    const result = document.querySelector("#panel-" + { seq: "sequence", dig: "digits", amb: "ambiguous" }[panel] + " .picture");
    result.classList.add("stale");
    let response, body;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" } });
      body = await response.json();
    } catch (error) {
      if (ticket === latest[panel]) box.textContent = "no answer from the server: " + error;
      return null;
    }
    if (ticket !== latest[panel]) return null; // a newer request is on its way
    if (!response.ok) {
      box.textContent = (body.parameter ? body.parameter + ": " : "") + body.error;
      box.setAttribute("data-status", String(response.status));
      markBad(panel, body.parameter);
      return null;
    }
    box.textContent = "";
    box.removeAttribute("data-status");
    markBad(panel, null);
    result.classList.remove("stale");
    return body;
  }

  function markBad(panel, parameter) {
    const section = $("panel-" + { seq: "sequence", dig: "digits", amb: "ambiguous" }[panel]);
    section.querySelectorAll(".bad-input").forEach((n) => n.classList.remove("bad-input"));
    if (!parameter) return;
    const ids = { seq: { digits: "seq-digits", "digits length": "seq-digits", min: "seq-min", max: "seq-max", width: "seq-width", seed: "seq-seed" },
      dig: { n: "dig-n", columns: "dig-columns", seed: "dig-seed", temperature: "dig-temperature", rejection: "dig-percentile" },
      amb: { a: "amb-a", b: "amb-b", seed: "amb-seed" } }[panel];
    const node = (ids[parameter] && $(ids[parameter])) || section.querySelector('[data-option="' + CSS.escape(parameter) + '"]');
    if (node) node.classList.add("bad-input");
  }

  function showImage(img, src, zoom) {
    img.onload = () => { img.style.width = img.naturalWidth * zoom + "px"; img.style.height = img.naturalHeight * zoom + "px"; };
    img.src = src;
  }

  function links(prefix, path, params, formats) {
    for (const format of formats) {
      const p = new URLSearchParams(params);
      p.set("format", format);
      p.set("download", "1");
      $(prefix + "-" + format).href = path + "?" + p.toString();
    }
  }

  // ------------------------------------------------------------------ sequence panel

  let seqControls = [];
  function sequenceParams() {
    const p = new URLSearchParams();
    p.set("digits", $("seq-digits").value.trim());
    p.set("min", $("seq-min").value.trim());
    p.set("max", $("seq-max").value.trim());
    p.set("width", $("seq-tight").checked ? "tight" : $("seq-width").value.trim());
    for (const name of ["mode", "measure", "align", "source", "split"]) p.set(name, $("seq-" + name).value);
    p.set("seed", $("seq-seed").value.trim());
    changedParams(seqControls, p);
    return p;
  }

  async function updateSequence() {
    const p = sequenceParams();
    $("seq-width").disabled = $("seq-tight").checked;
    $("seq-split").disabled = $("seq-source").value !== "real";
    links("seq", "/api/sequence", p, ["png", "npz"]);
    const q = new URLSearchParams(p); q.set("format", "json");
    const body = await ask("seq", "/api/sequence?" + q.toString());
    if (!body) return;
    showImage($("seq-image"), body.png, Number($("seq-zoom").value));
    $("seq-image").setAttribute("data-width", body.width);
    $("seq-image").setAttribute("data-height", body.height);
    $("seq-size").textContent = body.width + " × " + body.height + " px, labels " + body.labels.join("");
    $("seq-seed-shown").textContent = body.seed;
    $("seq-command").textContent = body.command;
  }

  // ------------------------------------------------------------------ digits panel

  let augControls = [];
  function digitsParams() {
    const p = new URLSearchParams();
    const generator = $("dig-generator").value;
    p.set("generator", generator);
    if ($("dig-digit").value !== "all") p.set("digit", $("dig-digit").value);
    p.set("n", $("dig-n").value.trim());
    p.set("columns", $("dig-columns").value.trim());
    p.set("seed", $("dig-seed").value.trim());
    if (generator === "kde") {
      const level = $("dig-rejection").value;
      p.set("rejection", level === "percentile" ? $("dig-percentile").value.trim() : level);
      p.set("cleaning", $("dig-cleaning").value);
    }
    if (generator === "cvae") p.set("temperature", $("dig-temperature").value);
    if (generator === "real" || generator === "augmented") p.set("split", $("dig-split").value);
    if (generator === "augmented") changedParams(augControls, p);
    return p;
  }

  async function updateDigits() {
    const generator = $("dig-generator").value;
    for (const kind of ["kde", "cvae", "augmented"]) {
      document.querySelectorAll("#panel-digits .only-" + kind).forEach((n) => (n.hidden = generator !== kind));
    }
    document.querySelectorAll("#panel-digits .only-real").forEach((n) => (n.hidden = !(generator === "real" || generator === "augmented")));
    document.querySelectorAll("#panel-digits .only-percentile").forEach((n) => (n.hidden = $("dig-rejection").value !== "percentile"));
    $("dig-temperature-shown").textContent = $("dig-temperature").value;
    const status = schema.health.sources.digits[generator];
    $("dig-status").textContent = status && !status.available ? generator + " is not available: " + status.message : "";
    const p = digitsParams();
    links("dig", "/api/digits", p, ["png", "npz"]);
    const q = new URLSearchParams(p); q.set("format", "json");
    const body = await ask("dig", "/api/digits?" + q.toString());
    if (!body) return;
    showImage($("dig-image"), body.png, Number($("dig-zoom").value));
    $("dig-size").textContent = body.n + " digits, " + body.columns + " per row";
    $("dig-seed-shown").textContent = body.seed;
    $("dig-command").textContent = body.command;
  }

  // ------------------------------------------------------------------ ambiguous panel

  let series = null;
  function bars(container, proba, pair) {
    container.innerHTML = "";
    if (!proba) { container.textContent = schema.health.sources.classifier.message || "no classifier"; return; }
    proba.forEach((p, digit) => {
      container.appendChild(el("span", { text: String(digit) }));
      const bar = el("span", { class: "bar" + (pair.includes(digit) ? " pair" : "") }, [el("span", { style: "width:" + (100 * p).toFixed(1) + "%" })]);
      container.appendChild(bar);
      container.appendChild(el("span", { text: p.toFixed(3) }));
    });
  }

  function showStep() {
    if (!series) return;
    const k = Number($("amb-weight").value);
    const step = series.steps[k];
    $("amb-step").src = step.png;
    $("amb-weight-shown").textContent = "w = " + step.weight.toFixed(2) + (k === series.chosen ? " (chosen)" : "");
    bars($("amb-step-proba"), step.proba, series.pair);
  }

  async function updateAmbiguous() {
    const status = schema.health.sources.digits.ambiguous;
    $("amb-status").textContent = status && !status.available ? "ambiguous digits are not available: " + status.message : "";
    const p = new URLSearchParams();
    p.set("a", $("amb-a").value); p.set("b", $("amb-b").value); p.set("seed", $("amb-seed").value.trim());
    links("amb", "/api/ambiguous", p, ["png", "gif", "npz"]);
    const q = new URLSearchParams(p); q.set("format", "json");
    const body = await ask("amb", "/api/ambiguous?" + q.toString());
    if (!body) return;
    series = body.series[0];
    showImage($("amb-strip"), body.png, 2);
    const slider = $("amb-weight");
    slider.max = String(series.steps.length - 1);
    slider.value = String(series.chosen);
    showStep();
    $("amb-kept").src = series.kept.png;
    $("amb-kept-weight").textContent = "(w = " + series.kept.weight.toFixed(2) + ")";
    bars($("amb-kept-proba"), series.kept.proba, series.pair);
    $("amb-seed-shown").textContent = body.seed;
    $("amb-command").textContent = body.command;
    $("amb-gif-command").textContent = body.gif_command;
  }

  // ------------------------------------------------------------------ start

  function listen(ids, panel, run) {
    for (const id of ids) {
      const node = typeof id === "string" ? $(id) : id;
      node.addEventListener("input", () => schedule(panel, run));
      node.addEventListener("change", () => schedule(panel, run));
    }
  }

  function reseed(id, panel, run) {
    $(id + "-reseed").addEventListener("click", () => { $(id + "-seed").value = String(Math.floor(Math.random() * 1e9)); schedule(panel, run); });
  }

  async function start() {
    schema = await (await fetch("/api/options")).json();
    const health = schema.health.sources;
    const ready = (s) => s && s.available;
    $("health").textContent = "sources: " + Object.entries(health.digits).map(([n, s]) => n + (ready(s) ? " ✓" : " ✗")).join(", ") +
      " · classifier " + (ready(health.classifier) ? "✓" : "✗");
    const byName = Object.fromEntries(schema.sequence.options.map((o) => [o.name, o]));
    fillSelect($("seq-mode"), byName.mode.choices, byName.mode.default);
    fillSelect($("seq-measure"), byName.measure.choices, byName.measure.default);
    fillSelect($("seq-align"), byName.align.choices, byName.align.default);
    const sources = schema.sequence.sources.filter((s) => ready(health.sequence[s]));
    fillSelect($("seq-source"), sources, "real");
    fillSelect($("seq-split"), schema.sequence.splits, "test");
    seqControls = buildOptions($("seq-options"), schema.sequence.options, ["width", "mode", "min", "max", "measure", "align"]);
    listen(["seq-digits", "seq-min", "seq-max", "seq-width", "seq-tight", "seq-mode", "seq-measure", "seq-align", "seq-source", "seq-split", "seq-seed", "seq-zoom"], "seq", updateSequence);
    listen([$("seq-options")], "seq", updateSequence);
    reseed("seq", "seq", updateSequence);

    const generators = ["real", "augmented", "kde", "cvae"];
    fillSelect($("dig-generator"), generators, ready(health.digits.kde) ? "kde" : "real",
      generators.map((g) => g + (ready(health.digits[g]) ? "" : " (missing)")));
    fillSelect($("dig-digit"), ["all", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 7);
    fillSelect($("dig-rejection"), [...schema.kde.rejection_levels, "percentile"], "medium");
    fillSelect($("dig-cleaning"), schema.kde.cleaning_levels, "medium");
    fillSelect($("dig-split"), schema.sequence.splits, "train");
    $("dig-n").max = String(schema.limits.max_digits);
    augControls = buildOptions($("dig-augment"), schema.augment, []);
    listen(["dig-generator", "dig-digit", "dig-n", "dig-columns", "dig-seed", "dig-rejection", "dig-percentile", "dig-cleaning", "dig-temperature", "dig-split", "dig-zoom"], "dig", updateDigits);
    listen([$("dig-augment")], "dig", updateDigits);
    reseed("dig", "dig", updateDigits);

    const digits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    fillSelect($("amb-a"), digits, 4);
    fillSelect($("amb-b"), digits, 9);
    listen(["amb-a", "amb-b", "amb-seed"], "amb", updateAmbiguous);
    $("amb-weight").addEventListener("input", showStep);
    reseed("amb", "amb", updateAmbiguous);

    await Promise.all([updateSequence(), updateDigits(), updateAmbiguous()]);
    document.body.setAttribute("data-ready", "1");
  }

  start();
})();
