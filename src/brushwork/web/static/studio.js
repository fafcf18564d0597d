// brushwork studio: plain JavaScript, no build step. Talks to the REST API at /api (see /docs).
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
if (params.get("token")) {
  sessionStorage.setItem("brushwork-token", params.get("token"));
  history.replaceState(null, "", location.pathname);  // keep the token out of the address bar and history
}
const TOKEN = sessionStorage.getItem("brushwork-token");

function withToken(url) {  // only for the event stream: EventSource cannot send a header
  return TOKEN ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN) : url;
}

// Images and downloads: with a token, fetched with the header and shown from a blob URL, so the
// token never sits in an address, a link or the browser's history.
function show(img, url) {
  if (!TOKEN) { img.src = url; return; }
  api(url).then((r) => r.blob()).then((b) => { img.src = URL.createObjectURL(b); })
    .catch((err) => say(err.message, true));
}

function downloadLink(a, url, name) {
  a.href = TOKEN ? "#" : url;
  a.onclick = TOKEN ? async (e) => {
    e.preventDefault();
    try {
      const blob = await (await api(url)).blob();
      const tmp = document.createElement("a");
      tmp.href = URL.createObjectURL(blob);
      tmp.download = name || "";
      tmp.click();
    } catch (err) { say(err.message, true); }
  } : null;
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (TOKEN) headers["Authorization"] = "Bearer " + TOKEN;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function say(text, isError = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

// -- images: the originals for real work, 512 px copies for the preview ------------------------------
const chosen = { content: null, contentSmall: null, style: null, styleSmall: null };

function downscale(file, side = 512) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => {
      const scale = Math.min(1, side / Math.max(img.width, img.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(img.width * scale));
      canvas.height = Math.max(1, Math.round(img.height * scale));
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      canvas.toBlob((blob) => resolve(blob || file), "image/png");
      URL.revokeObjectURL(img.src);
    };
    img.onerror = () => resolve(file);  // the server will say what is wrong with it
    img.src = URL.createObjectURL(file);
  });
}

async function choose(kind, file) {
  if (!file) return;
  chosen[kind] = file;
  chosen[kind + "Small"] = await downscale(file);
  const thumb = $(kind + "-thumb");
  thumb.src = URL.createObjectURL(chosen[kind + "Small"]);
  thumb.hidden = false;
  thumb.alt = kind + ": " + file.name;
  $(kind + "-help").hidden = true;
  if (kind === "style") $("style-select").value = "";
  schedulePreview();
}

function wireDrop(kind) {
  const drop = $(kind + "-drop"), input = $(kind + "-file");
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); choose(kind, e.dataTransfer.files[0]); });
  input.addEventListener("change", () => choose(kind, input.files[0]));
}
wireDrop("content");
wireDrop("style");

function addStyle(form, small) {
  const name = $("style-select").value;
  if (name) form.append("style_name", name);
  else if (chosen.style) form.append("style", small ? chosen.styleSmall : chosen.style, "style.png");
  else return false;
  return true;
}

// -- the strength slider's live preview: one request in flight, the latest value wins -----------------
let previewBusy = false, previewAgain = false;
$("strength").addEventListener("input", () => {
  $("strength-out").value = Number($("strength").value).toFixed(2);
  schedulePreview();
});
function showNamedStyle() {
  const name = $("style-select").value;
  if (!name) return;
  chosen.style = null;
  const thumb = $("style-thumb");
  show(thumb, name.startsWith("gallery:") ? "/api/gallery/" + name.slice(8) + "/thumbnail" : "/api/styles/" + name);
  thumb.alt = "style: " + $("style-select").selectedOptions[0].textContent;
  thumb.hidden = false;
  $("style-help").hidden = true;
}
$("style-select").addEventListener("change", () => { showNamedStyle(); schedulePreview(); });

// The chosen method: "gatys+adain" is Gatys started from the AdaIN picture; data-transform="wct"
// the whitening-colouring transform in place of AdaIN's (the preview shows it too).
function methodChoice() {
  const el = document.querySelector("input[name=method]:checked");
  const [method, init] = el.value.split("+");
  return { method, init, transform: el.dataset.transform };
}
document.querySelectorAll("input[name=method]").forEach((el) => el.addEventListener("change", schedulePreview));

async function schedulePreview() {
  if (!chosen.content) return;
  if (previewBusy) { previewAgain = true; return; }
  const form = new FormData();
  form.append("content", chosen.contentSmall, "content.png");
  if (!addStyle(form, true)) return;
  form.append("strength", $("strength").value);
  const { transform } = methodChoice();
  if (transform) form.append("transform", transform);
  previewBusy = true;
  const t0 = performance.now();
  try {
    const blob = await (await api("/api/preview", { method: "POST", body: form })).blob();
    $("preview").src = URL.createObjectURL(blob);
    $("preview").dataset.ms = Math.round(performance.now() - t0);
    say("Preview in " + $("preview").dataset.ms + " ms.");
  } catch (err) {
    say(err.message, true);
  } finally {
    previewBusy = false;
    if (previewAgain) { previewAgain = false; schedulePreview(); }
  }
}

// -- stylize: a queued job, progress from server-sent events, cancel ---------------------------------
let currentJob = null;
$("go").addEventListener("click", async () => {
  if (!chosen.content) { say("Choose a content image first.", true); return; }
  const form = new FormData();
  form.append("content", chosen.content, chosen.content.name || "content.png");
  if (!addStyle(form, false)) { say("Choose a style first.", true); return; }
  const { method, init, transform } = methodChoice();
  form.append("method", method);
  if (init) form.append("init", init);
  if (transform) form.append("transform", transform);
  form.append("strength", $("strength").value);
  form.append("size", $("size").value);
  form.append("preserve_color", $("preserve").value);
  $("go").disabled = true;
  try {
    const job = await (await api("/api/stylize", { method: "POST", body: form })).json();
    follow(job);
  } catch (err) {
    say(err.message, true);
    $("go").disabled = false;
  }
});

function follow(job) {
  currentJob = job.id;
  $("progress").hidden = false;
  $("progress").value = 0;
  $("cancel").hidden = false;
  say("Queued.");
  const events = new EventSource(withToken("/api/jobs/" + job.id + "/events"));
  events.onmessage = (e) => {
    const j = JSON.parse(e.data);
    $("progress").value = j.progress;
    if (j.status === "running") say("Painting... " + Math.round(j.progress * 100) + "%");
    if (["done", "failed", "cancelled"].includes(j.status)) {
      events.close();
      finish(j);
    }
  };
  events.onerror = () => { events.close(); say("Lost the progress stream; see the gallery.", true); finish(null); };
}

function finish(job) {
  currentJob = null;
  $("go").disabled = false;
  $("cancel").hidden = true;
  $("progress").hidden = true;
  if (!job) return;
  if (job.status === "done") {
    show($("result"), job.result.image_url);
    downloadLink($("download"), job.result.image_url, job.result.image_url.split("/").pop());
    $("download").hidden = false;
    say("Done in " + job.result.seconds + " s" + (job.result.gallery_id ? " (gallery item " + job.result.gallery_id + ")." : ".")
        + (job.result.note ? " " + job.result.note : ""));
    loadGallery();
  } else {
    say(job.status === "cancelled" ? "Cancelled." : "Failed: " + job.message, job.status !== "cancelled");
  }
}

$("cancel").addEventListener("click", async () => {
  if (currentJob) await api("/api/jobs/" + currentJob, { method: "DELETE" }).catch((err) => say(err.message, true));
});

// -- side panels -------------------------------------------------------------------------------------
function contentForm() {
  if (!chosen.content) { say("Choose a content image first.", true); return null; }
  const form = new FormData();
  form.append("image", chosen.contentSmall, "content.png");
  return form;
}

$("palette-go").addEventListener("click", async () => {
  const form = contentForm();
  if (!form) return;
  try {
    const p = await (await api("/api/palette", { method: "POST", body: form })).json();
    $("palette").replaceChildren(...p.colors.map((c) => {
      const d = document.createElement("div");
      d.className = "swatch";
      d.style.background = c.hex;
      d.textContent = c.hex + " " + Math.round(c.share * 100) + "%";
      d.title = c.hex;
      return d;
    }));
    $("harmony-note").textContent = p.harmony.harmony + " (" + p.harmony.score.toFixed(2) + "): " + p.harmony.reason;
  } catch (err) { say(err.message, true); }
});

$("compose-go").addEventListener("click", async () => {
  const form = contentForm();
  if (!form) return;
  form.append("overlay", "true");
  try {
    const c = await (await api("/api/compose", { method: "POST", body: form })).json();
    show($("overlay"), c.overlay.image_url);
    $("overlay").alt = "Composition overlay: thirds, saliency and suggested crops";
    $("overlay").hidden = false;
    $("crops").replaceChildren(...c.crops.map((k) => {
      const li = document.createElement("li");
      li.textContent = k.ratio + " (score " + k.score.toFixed(2) + "): " + k.reasons.join("; ");
      return li;
    }));
  } catch (err) { say(err.message, true); }
});

$("gan-go").addEventListener("click", async () => {
  try {
    const r = await (await api("/api/gan/sample", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seeds: $("seeds").value }),
    })).json();
    show($("gan"), r.image_url);
    if (r.note) say(r.note);
    $("gan").alt = "GAN samples for seeds " + r.seeds.join(", ");
    $("gan").hidden = false;
    loadGallery();
  } catch (err) { say(err.message, true); }
});

// -- gallery ------------------------------------------------------------------------------------------
async function loadGallery() {
  let items = [];
  try {
    items = (await (await api("/api/gallery?limit=40")).json()).items;
  } catch (err) { say("Gallery: " + err.message, true); }  // the styles still load without it
  try {
    const select = $("style-select");
    const keep = select.value;
    const styles = (await (await api("/api/styles")).json()).styles;
    select.replaceChildren(new Option("(an uploaded image)", ""),
      ...styles.map((s) => new Option("Example: " + s.name.replace(/_/g, " "), s.name)),
      ...items.filter((it) => it.is_image).map((it) => new Option("Gallery " + it.id + ": " + it.operation, "gallery:" + it.id)));
    const uploaded = keep === "" && chosen.style;  // an uploaded style stays chosen
    select.value = uploaded || [...select.options].some((o) => o.value === keep && keep) ? keep : (styles[0] ? styles[0].name : "");
    showNamedStyle();
    $("gallery").replaceChildren(...items.map(galleryItem));
  } catch (err) { say(err.message, true); }
}

function galleryItem(it) {
  const li = document.createElement("li");
  const img = document.createElement("img");
  show(img, it.thumbnail_url);
  img.alt = it.operation + " " + it.id;
  const text = document.createElement("div");
  const when = new Date(it.created_at).toLocaleString();
  const cmd = it.recipe && it.recipe.command ? "brushwork " + it.recipe.command.join(" ") : "";
  const title = document.createElement("strong");
  title.textContent = "#" + it.id + " " + it.operation;
  const meta = document.createElement("div");
  meta.textContent = when + " · " + it.width + "×" + it.height + (it.tags.length ? " · " + it.tags.join(", ") : "");
  const recipe = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "recipe";
  const pre = document.createElement("pre");
  pre.textContent = cmd || JSON.stringify(it.recipe, null, 1);
  recipe.append(summary, pre);
  const actions = document.createElement("div");
  actions.className = "actions";
  const download = document.createElement("a");
  downloadLink(download, it.file_url, it.path.split("/").pop());
  download.textContent = "download";
  download.setAttribute("download", "");
  const useStyle = document.createElement("button");
  useStyle.type = "button";
  useStyle.className = "secondary";
  useStyle.textContent = "use as style";
  useStyle.addEventListener("click", () => { $("style-select").value = "gallery:" + it.id; showNamedStyle(); schedulePreview(); });
  const del = document.createElement("button");
  del.type = "button";
  del.className = "secondary";
  del.textContent = "delete";
  del.addEventListener("click", async () => {
    if (!confirm("Forget gallery item " + it.id + "? (The file stays on disk.)")) return;
    await api("/api/gallery/" + it.id, { method: "DELETE" }).catch((err) => say(err.message, true));
    loadGallery();
  });
  const again = document.createElement("button");
  again.type = "button";
  again.className = "secondary";
  again.textContent = "reproduce";
  again.addEventListener("click", async () => {
    say("Reproducing item " + it.id + "...");
    try {
      let job = await (await api("/api/gallery/" + it.id + "/reproduce", { method: "POST" })).json();
      while (!["done", "failed", "cancelled"].includes(job.status)) {
        await new Promise((r) => setTimeout(r, 300));
        job = await (await api("/api/jobs/" + job.id)).json();
      }
      say(job.status === "done" ? "Item " + it.id + ": " + job.result.summary : "Reproduce failed: " + job.message,
          job.status !== "done");
    } catch (err) { say(err.message, true); }
  });
  actions.append(download, useStyle, again, del);
  text.append(title, meta, recipe, actions);
  li.append(img, text);
  return li;
}

$("gallery-refresh").addEventListener("click", loadGallery);
loadGallery();
