// fastnst demo page: plain JavaScript, no build step.
// Server mode posts the photo (or webcam frames) to /api/stylize; browser mode runs the model's
// ONNX export with onnxruntime-web (WebAssembly) from the server's local copy under /ort/.
// Arbitrary-style models take a painting: uploaded to the server once (it answers an id), or,
// in the browser, fed to the model (AdaIN) or to its style predictor once (style prediction).
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  config: null, models: [], file: null, mode: "server", webcam: null,
  session: null, sessionModel: null, predictor: null, ortLoading: null, busy: false, again: false,
  painting: null, paintingCount: 0,
};
const RGB_TO_YIQ = [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263],
  [0.211456, -0.522591, 0.311135]];
const YIQ_TO_RGB = invert3(RGB_TO_YIQ);

function showError(message) { $("error").textContent = message ? String(message).split("\n")[0] : ""; }
function showStatus(message) { $("status").textContent = message || ""; }

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${url}: HTTP ${response.status}`);
  return body;
}

async function init() {
  state.config = await getJSON("/api/config");
  if (!state.config.ort_web_ready) {
    $("mode-browser").disabled = true;
    $("ort-note").textContent = state.config.ort_web_hint;
    $("ort-note").hidden = false;
  }
  state.models = (await getJSON("/api/models")).models;
  const select = $("model");
  for (const info of state.models) {
    select.add(new Option(`${info.name}: ${describe(info)}`, info.name));
  }
  const usable = state.models.find((info) => info.kind !== "broken");
  if (usable) select.value = usable.name;
  const paintings = $("painting");
  paintings.add(new Option("(your own: upload one)", ""));
  for (const name of (await getJSON("/api/paintings")).paintings) paintings.add(new Option(name, name));
  if (!state.models.length) showError("no models in the folder: add .ckpt, .pth or .onnx files");
  if (Object.keys(state.config.catalogue || {}).length) showGallery();
  modelChanged();
  wireEvents();
  document.body.dataset.ready = "1";
}

// fastnst demo without a folder: a card per catalogue model, with its thumbnail and licence.
function showGallery() {
  const gallery = $("gallery");
  for (const info of state.models) {
    const entry = state.config.catalogue[info.name];
    if (!entry) continue;
    const card = document.createElement("button");
    card.type = "button";
    card.className = "card";
    card.dataset.model = info.name;
    card.title = `${entry.title}: ${entry.reference}`;
    if (info.kind === "single" || info.kind === "multi") {
      const img = new Image(160, 120);
      img.alt = `${info.name}: a small scene in this style`;
      img.src = `/api/thumbnail?model=${encodeURIComponent(info.name)}`;
      card.append(img);
    } else {
      const blank = document.createElement("span");
      blank.className = "blank";
      blank.textContent = info.kind === "arbitrary" ? "any painting: pick one" : "cannot load";
      card.append(blank);
    }
    const caption = document.createElement("span");
    caption.textContent = `${info.name} (${entry.kind}; ${entry.license})`;
    card.append(caption);
    card.addEventListener("click", () => {
      $("model").value = info.name;
      $("model").dispatchEvent(new Event("change"));
    });
    gallery.append(card);
  }
  $("gallery-section").hidden = false;
}

function markCard() {
  for (const card of document.querySelectorAll("#gallery .card")) {
    card.setAttribute("aria-pressed", String(card.dataset.model === $("model").value));
  }
}

function describe(info) {
  if (info.kind === "single") return `single style (${info.styles[0] || "?"})`;
  if (info.kind === "multi") return `multi-style: ${info.styles.join(", ")}`;
  if (info.kind === "arbitrary") return "arbitrary style: any painting";
  return `broken: ${info.error}`;
}

function currentModel() { return state.models.find((info) => info.name === $("model").value); }

function modelChanged() {
  const info = currentModel();
  markCard();
  $("model-kind").textContent = info ? describe(info) : "";
  showError(info && info.kind === "broken" ? `${info.name} cannot load: ${info.error}` : "");
  const multi = info && info.kind === "multi";
  $("styles").hidden = !multi;
  const arbitrary = info && info.kind === "arbitrary";
  $("paintings").hidden = !arbitrary;
  if (arbitrary && !state.painting && $("painting").options.length > 1) {
    $("painting").selectedIndex = 1;
    pickPainting();
  }
  $("style").replaceChildren(new Option("blend", ""));
  $("blend").replaceChildren();
  if (multi) {
    for (const [index, name] of info.styles.entries()) {
      $("style").add(new Option(name, name));
      const label = document.createElement("label");
      label.textContent = `${name} `;
      const slider = Object.assign(document.createElement("input"),
        { type: "range", min: 0, max: 1, step: 0.05, value: index === 0 ? 1 : 0 });
      slider.dataset.style = name;
      slider.addEventListener("input", () => { $("style").value = ""; restylize(); });
      label.append(slider);
      $("blend").append(label);
    }
    $("style").value = info.styles[0];
  }
  state.session = null;
  state.predictor = null;
  restylize();
}

// ---- paintings (arbitrary-style models) --------------------------------------------------

async function pickPainting() {
  const name = $("painting").value;
  if (!name) return;
  try {
    const response = await fetch(`/api/painting?name=${encodeURIComponent(name)}`);
    if (!response.ok) throw new Error((await response.json()).error);
    setPainting(await response.blob());
  } catch (err) {
    showError(err.message || err);
  }
}

function setPainting(blob) {
  if (!blob) return;
  state.painting = { blob, id: null, key: ++state.paintingCount, tensor: null, vectors: {} };
  URL.revokeObjectURL($("painting-preview").src);
  $("painting-preview").src = URL.createObjectURL(blob);
  restylize();
}

function needPainting() {
  if (!state.painting) throw new Error("this model paints any painting: choose or upload one");
  return state.painting;
}

// The server's id of the painting, uploading it the first time.
async function paintingId(painting) {
  if (painting.id) return painting.id;
  const response = await fetch("/api/paintings", {
    method: "POST", body: painting.blob,
    headers: { "Content-Type": painting.blob.type || "application/octet-stream" },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`the painting: ${body.error || response.status}`);
  painting.id = body.painting;
  return painting.id;
}

// The painting as a (1, 3, H, W) tensor, its short side at the server's style_size.
async function paintingTensor(painting) {
  if (painting.tensor) return painting.tensor;
  const bitmap = await createImageBitmap(painting.blob,
    { colorSpaceConversion: "none", imageOrientation: "from-image" });
  const scale = state.config.style_size / Math.min(bitmap.width, bitmap.height);
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingQuality = "high";
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
  painting.tensor = new ort.Tensor("float32", toPlanar(data, canvas.width * canvas.height),
    [1, 3, canvas.height, canvas.width]);
  return painting.tensor;
}

// A split export's style vector of the painting: its predictor runs once per painting.
async function styleVector(info, painting) {
  if (painting.vectors[info.name]) return painting.vectors[info.name];
  if (!state.predictor) {
    state.predictor = await createSession(info, "style");
  }
  const feeds = { style_image: await paintingTensor(painting) };
  painting.vectors[info.name] = (await state.predictor.run(feeds)).style_vector;
  return painting.vectors[info.name];
}

// The style choice: a name, or {name: weight} from the blend sliders (weights sum to 1).
function styleChoice() {
  const info = currentModel();
  if (!info || info.kind !== "multi") return null;
  if ($("style").value) return $("style").value;
  const weights = {};
  for (const slider of $("blend").querySelectorAll("input")) weights[slider.dataset.style] = +slider.value;
  return weights;
}

function styleWeights(info) {
  const choice = styleChoice();
  const weights = new Float32Array(info.styles.length);
  if (typeof choice === "string") weights[info.styles.indexOf(choice)] = 1;
  else info.styles.forEach((name, i) => { weights[i] = choice[name]; });
  const total = weights.reduce((a, b) => a + b, 0);
  return total > 0 ? weights.map((w) => w / total) : weights.fill(1 / weights.length);
}

function wireEvents() {
  $("model").addEventListener("change", modelChanged);
  $("style").addEventListener("change", restylize);
  $("color").addEventListener("change", restylize);
  let timer = null;
  $("strength").addEventListener("input", () => {
    $("strength-value").textContent = (+$("strength").value).toFixed(2);
    clearTimeout(timer);
    timer = setTimeout(restylize, 120);
  });
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => { state.mode = radio.value; restylize(); });
  }
  $("file").addEventListener("change", () => choose($("file").files[0]));
  $("painting").addEventListener("change", pickPainting);
  $("painting-file").addEventListener("change", () => {
    $("painting").value = "";
    setPainting($("painting-file").files[0]);
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    choose(event.dataTransfer.files[0]);
  });
  $("webcam").addEventListener("click", toggleWebcam);
}

function choose(file) {
  if (!file) return;
  if (state.webcam) stopWebcam();
  state.file = file;
  URL.revokeObjectURL($("original").src);
  $("original").src = URL.createObjectURL(file);
  restylize();
}

// One stylization at a time; a change during one asks for another afterwards.
async function restylize() {
  const info = currentModel();
  if (!state.file || state.webcam || !info || info.kind === "broken") return;
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  try {
    do {
      state.again = false;
      const started = performance.now();
      const blob = state.mode === "browser" ? await stylizeInBrowser(state.file, "image/png")
        : await stylizeOnServer(state.file, "png");
      if (blob) {
        showResult(blob);
        showError("");
        showStatus(`stylized ${state.mode === "browser" ? "in this browser" : "on the server"} in ${
          Math.round(performance.now() - started)} ms`);
      }
    } while (state.again);
  } catch (err) {
    showError(err.message || err);
  } finally {
    state.busy = false;
  }
}

function showResult(blob) {
  const result = $("result");
  URL.revokeObjectURL(result.src);
  result.src = URL.createObjectURL(blob);
  result.dataset.count = String(+result.dataset.count + 1);
  result.dataset.mode = state.mode;
  const download = $("download");
  download.href = result.src;
  download.download = blob.type === "image/jpeg" ? "stylized.jpg" : "stylized.png";
  download.hidden = false;
}

async function stylizeOnServer(blob, format) {
  const info = currentModel();
  if (!info) throw new Error("choose a model first");
  const params = new URLSearchParams({ model: info.name, strength: $("strength").value, format });
  if ($("color").value) params.set("preserve_color", $("color").value);
  const style = styleChoice();
  if (style !== null) params.set("style", typeof style === "string" ? style : JSON.stringify(style));
  const painting = info.kind === "arbitrary" ? needPainting() : null;
  for (let attempt = 0; ; attempt++) {
    if (painting) params.set("painting", await paintingId(painting));
    const response = await fetch(`/api/stylize?${params}`, {
      method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" },
    });
    if (response.ok) return response.blob();
    let message = `HTTP ${response.status}`;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    if (response.status === 503) return null; // busy: skip this frame or try again later
    if (painting && response.status === 404 && message.includes("painting") && attempt === 0) {
      painting.id = null; // the server forgot it (evicted or restarted): upload it again
      continue;
    }
    throw new Error(message);
  }
}

// ---- in-browser inference with onnxruntime-web -------------------------------------------

function loadOrt() {
  if (window.ort) return Promise.resolve(window.ort);
  state.ortLoading ??= new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement("script"), { src: "/ort/ort.wasm.min.js" });
    script.onload = () => {
      ort.env.wasm.wasmPaths = "/ort/";
      ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
      resolve(window.ort);
    };
    script.onerror = () => reject(new Error("cannot load /ort/ort.wasm.min.js: run 'fastnst demo --fetch-ort-web'"));
    document.head.append(script);
  });
  return state.ortLoading;
}

async function browserSession(info) {
  if (state.session && state.sessionModel === info.name) return state.session;
  state.session = await createSession(info, "model");
  state.sessionModel = info.name;
  state.predictor = null;
  return state.session;
}

// An onnxruntime-web session of the model's ONNX file (part "style": a split's predictor).
async function createSession(info, part) {
  const ort = await loadOrt();
  showStatus(`loading ${info.name} into the browser...`);
  const params = new URLSearchParams({ model: info.name, part });
  const response = await fetch(`/api/onnx?${params}`);
  if (!response.ok) throw new Error((await response.json()).error);
  const bytes = new Uint8Array(await response.arrayBuffer());
  try {
    return await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  } catch (err) {
    throw new Error(`cannot run ${info.name} in the browser: ${err.message || err}`);
  }
}

// RGBA bytes -> planar RGB floats in [0, 1].
function toPlanar(data, n) {
  const planar = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) planar[c * n + i] = data[4 * i + c] / 255;
  }
  return planar;
}

// Pixels of an image file or a video frame, the long side capped at the server's max_size.
async function pixels(source) {
  const bitmap = source instanceof Blob
    ? await createImageBitmap(source, { colorSpaceConversion: "none", imageOrientation: "from-image" })
    : source;
  const width = bitmap.width || bitmap.videoWidth, height = bitmap.height || bitmap.videoHeight;
  const scale = Math.min(1, state.config.max_size / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return { canvas, context, image: context.getImageData(0, 0, canvas.width, canvas.height) };
}

async function stylizeInBrowser(source, type) {
  const info = currentModel();
  if (!info) throw new Error("choose a model first");
  const session = await browserSession(info);
  const { canvas, context, image } = await pixels(source);
  const { width, height, data } = image;
  const n = width * height;
  const content = toPlanar(data, n);
  const feeds = { image: new ort.Tensor("float32", content, [1, 3, height, width]) };
  if (session.inputNames.includes("style")) {
    feeds.style = new ort.Tensor("float32", styleWeights(info), [info.styles.length]);
  }
  if (session.inputNames.includes("style_image")) feeds.style_image = await paintingTensor(needPainting());
  if (session.inputNames.includes("style_vector")) feeds.style_vector = await styleVector(info, needPainting());
  const output = (await session.run(feeds))[session.outputNames[0]].data;
  let out = Float32Array.from(output, (v) => Math.min(1, Math.max(0, v)));
  if ($("color").value === "luminance") out = transferLuminance(out, content, n);
  if ($("color").value === "histogram") out = matchHistograms(out, content, n);
  const strength = +$("strength").value;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = strength * out[c * n + i] + (1 - strength) * content[c * n + i];
      data[4 * i + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
    data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, type, 0.9));
}

function invert3(m) {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [[e * i - f * h, c * h - b * i, b * f - c * e], [f * g - d * i, a * i - c * g, c * d - a * f],
    [d * h - e * g, b * g - a * h, a * e - b * d]].map((row) => row.map((v) => v / det));
}

// Y of the stylized image with I and Q of the content (Gatys et al. 2017, sec. 5.1).
function transferLuminance(out, content, n) {
  const result = new Float32Array(3 * n);
  const [ry, iq, qq] = RGB_TO_YIQ;
  for (let p = 0; p < n; p++) {
    const s = [out[p], out[n + p], out[2 * n + p]], x = [content[p], content[n + p], content[2 * n + p]];
    const yiq = [ry[0] * s[0] + ry[1] * s[1] + ry[2] * s[2],
      iq[0] * x[0] + iq[1] * x[1] + iq[2] * x[2], qq[0] * x[0] + qq[1] * x[1] + qq[2] * x[2]];
    for (let c = 0; c < 3; c++) {
      const v = YIQ_TO_RGB[c][0] * yiq[0] + YIQ_TO_RGB[c][1] * yiq[1] + YIQ_TO_RGB[c][2] * yiq[2];
      result[c * n + p] = Math.min(1, Math.max(0, v));
    }
  }
  return result;
}

// Each channel takes the content's values of equal rank (Gatys et al. 2017, sec. 5.2).
function matchHistograms(out, content, n) {
  const result = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const source = out.subarray(c * n, (c + 1) * n);
    const reference = content.slice(c * n, (c + 1) * n).sort();
    const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => source[a] - source[b]);
    for (let rank = 0; rank < n; rank++) result[c * n + order[rank]] = reference[rank];
  }
  return result;
}

// ---- webcam ------------------------------------------------------------------------------

async function toggleWebcam() {
  if (state.webcam) { stopWebcam(); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
  } catch (err) {
    showError(`no webcam: ${err.message || err}`);
    return;
  }
  const video = $("camera");
  video.srcObject = stream;
  await video.play();
  video.hidden = false;
  $("original").hidden = true;
  $("webcam").textContent = "Stop webcam";
  state.webcam = { stream, times: [], started: performance.now(), first: null };
  webcamLoop(state.webcam);
}

function stopWebcam() {
  const webcam = state.webcam;
  state.webcam = null;
  if (!webcam) return;
  webcam.stream.getTracks().forEach((track) => track.stop());
  $("camera").hidden = true;
  $("original").hidden = false;
  $("webcam").textContent = "Start webcam";
}

// One frame in flight at a time: grab, stylize, show; frames per second over the last frames.
async function webcamLoop(webcam) {
  const video = $("camera");
  while (state.webcam === webcam) {
    try {
      const blob = state.mode === "browser" ? await stylizeInBrowser(video, "image/jpeg")
        : await stylizeOnServer(await frameBlob(video), "jpeg");
      if (state.webcam !== webcam) break;
      if (!blob) { await new Promise((r) => setTimeout(r, 200)); continue; }
      showResult(blob);
      showError("");
      const now = performance.now();
      webcam.first ??= now - webcam.started;
      webcam.times.push(now);
      // the last 2 s, but at least the last 5 frames, so that a slow rate does not read 0
      webcam.times = webcam.times.filter((t, i, all) => now - t <= 2000 || i >= all.length - 5);
      const span = (now - webcam.times[0]) / 1000;
      const fps = webcam.times.length > 1 ? (webcam.times.length - 1) / span : 0;
      $("fps").textContent = `${fps.toFixed(1)} fps (first frame after ${Math.round(webcam.first)} ms)`;
      $("fps").dataset.fps = fps.toFixed(2);
    } catch (err) {
      showError(err.message || err);
      stopWebcam();
    }
  }
}

async function frameBlob(video) {
  const { canvas } = await pixels(video);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
}

init().catch((err) => showError(err.message || err));
