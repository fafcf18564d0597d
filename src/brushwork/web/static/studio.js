// brushwork studio: plain JavaScript, no build step. Talks to the REST API at /api (see /docs).
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
if (params.get("token")) {
  sessionStorage.setItem("brushwork-token", params.get("token"));
  history.replaceState(null, "", location.pathname);  // keep the token out of the address bar and history
}
let TOKEN = sessionStorage.getItem("brushwork-token");
// What /api/health says: whether results are listed in a gallery, and the upload limits.
let server = { gallery: true, limits: {} };

function withToken(url) {  // only for the event stream: EventSource cannot send a header
  return TOKEN ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN) : url;
}

// An image shown from a blob: the blob URL it held before is revoked, so replaced pictures are freed.
function setBlob(img, blob) {
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  if (blob) img.src = URL.createObjectURL(blob);
  else img.removeAttribute("src");
}

function forget(img) {  // empty it, and drop any picture still on its way to it
  img.dataset.want = "";
  setBlob(img, null);
}

// Images and downloads: with a token, fetched with the header and shown from a blob URL, so the
// token never sits in an address, a link or the browser's history. Only the latest request for an
// image is shown (a slower earlier one does not overwrite it).
function show(img, url, onError = (err) => say(err.message, true)) {
  img.dataset.want = url;
  img.hidden = false;
  if (!TOKEN) {
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = url;
    return;
  }
  api(url).then((r) => r.blob()).then((b) => { if (img.dataset.want === url) setBlob(img, b); })
    .catch(onError);
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
      setTimeout(() => URL.revokeObjectURL(tmp.href), 10000);
    } catch (err) { say(err.message, true); }
  } : null;
}

const SERVER_GONE = "The studio server is not answering: is brushwork serve still running?";

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (TOKEN) headers["Authorization"] = "Bearer " + TOKEN;
  let response;
  try {
    response = await fetch(path, Object.assign({}, options, { headers }));
  } catch (_) {  // a TypeError ("Failed to fetch"): no answer at all
    throw new Error(SERVER_GONE);
  }
  if (response.status === 401) throw new Error(needToken());
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    const err = new Error(message);
    err.status = response.status;
    throw err;
  }
  return response;
}

function say(text, isError = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

// A side panel's own status line, next to its button: where the user is looking.
function sayIn(id, text, isError = false) {
  const p = $(id);
  p.textContent = text;
  p.classList.toggle("error", isError);
}

// -- the token: asked for when the server wants one and the page has none (or a wrong one) -----------
function needToken() {
  const text = (TOKEN ? "The token was refused. " : "This studio needs its token. ") + "Open the full link that "
    + "brushwork serve printed (" + location.origin + "/#token=…), or enter the token.";
  const form = $("token-form");
  if (form.hidden) {
    form.hidden = false;
    say(text, true);
    $("token-input").focus();
  }
  return text;
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = $("token-input").value.trim();
  if (!value) return;
  TOKEN = value;
  sessionStorage.setItem("brushwork-token", value);  // never in the address: it would end up in the history
  $("token-input").value = "";
  $("token-form").hidden = true;
  say("Ready.");
  start();
});

// -- images: the originals for real work, 512 px copies for the preview ------------------------------
// The uploaded style stays here while an example or a gallery item is chosen, so that choosing
// "(an uploaded image)" again brings it back.
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
      const pixels = img.width * img.height;
      canvas.toBlob((blob) => resolve({ blob: blob || file, pixels }), "image/png");
      URL.revokeObjectURL(img.src);
    };
    img.onerror = () => { URL.revokeObjectURL(img.src); resolve({ blob: file, pixels: 0 }); };  // the server will say
    img.src = URL.createObjectURL(file);
  });
}

function megabytes(n) { return (n / 2 ** 20).toFixed(1) + " MB"; }

async function choose(kind, file) {
  if (!file) return;
  const what = kind === "content" ? "content picture" : "style picture";
  const maxBytes = server.limits.max_upload_bytes, maxPixels = server.limits.max_pixels;
  if (maxBytes && file.size > maxBytes) {
    say("The " + what + " '" + file.name + "' is " + megabytes(file.size) + ": the studio takes at most "
        + megabytes(maxBytes) + " per picture. Choose a smaller file.", true);
    return;
  }
  const small = await downscale(file);
  if (maxPixels && small.pixels > maxPixels) {
    say("The " + what + " '" + file.name + "' has " + small.pixels.toLocaleString() + " pixels: the studio takes at most "
        + maxPixels.toLocaleString() + ". Scale it down first.", true);
    return;
  }
  chosen[kind] = file;
  chosen[kind + "Small"] = small.blob;
  const thumb = $(kind + "-thumb");
  forget(thumb);
  setBlob(thumb, small.blob);
  thumb.hidden = false;
  thumb.alt = kind + ": " + file.name;
  $(kind + "-help").hidden = true;
  if (kind === "style") $("style-select").value = "";
  if (kind === "content") clearContentPanels();
  schedulePreview();
}

function wireDrop(kind) {
  const drop = $(kind + "-drop"), input = $(kind + "-file");
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); choose(kind, e.dataTransfer.files[0]); });
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = "";  // so that choosing the same file again fires "change" again
    choose(kind, file);
  });
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
  const name = $("style-select").value, thumb = $("style-thumb");
  if (!name) {  // "(an uploaded image)": the upload, if there is one
    forget(thumb);
    if (chosen.style) {
      setBlob(thumb, chosen.styleSmall);
      thumb.alt = "style: " + chosen.style.name;
    }
    thumb.hidden = !chosen.style;
    $("style-help").hidden = !!chosen.style;
    return;
  }
  show(thumb, name.startsWith("gallery:") ? "/api/gallery/" + name.slice(8) + "/thumbnail" : "/api/styles/" + name);
  thumb.alt = "style: " + $("style-select").selectedOptions[0].textContent;
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

// The preview is always 256 px AdaIN (or WCT), without the colour option: the caption says so.
function previewCaption() {
  const { method, init, transform } = methodChoice();
  let text = "Quick preview (256 px, " + (transform === "wct" ? "WCT" : "AdaIN") + ")";
  if (method === "gatys") text += init === "adain" ? ": Gatys refines it, so the result will differ" : ": the Gatys result will differ";
  text += ".";
  if ($("preserve").value !== "none") text += " The photo's colours are kept in the result, not in this preview.";
  $("preview-caption").textContent = text;
}
// The finish (colour and detail match) is AdaIN's, and the AdaIN start's of Gatys from AdaIN: Gatys alone matches
// the style itself.
function matchChoice() {
  const { method, init } = methodChoice();
  $("match").disabled = method !== "adain" && init !== "adain";
}
document.querySelectorAll("input[name=method]").forEach((el) => el.addEventListener("change", () => {
  previewCaption();
  matchChoice();
  schedulePreview();
}));
$("match").addEventListener("change", schedulePreview);
$("preserve").addEventListener("change", previewCaption);

async function schedulePreview() {
  if (!chosen.content) return;
  if (previewBusy) { previewAgain = true; return; }
  const form = new FormData();
  form.append("content", chosen.contentSmall, "content.png");
  if (!addStyle(form, true)) return;
  form.append("strength", $("strength").value);
  const { transform } = methodChoice();
  if (transform) form.append("transform", transform);
  form.append("match", $("match").disabled ? "full" : $("match").value);  // Gatys: the preview is AdaIN's (its start's)
  previewBusy = true;
  const t0 = performance.now();
  try {
    const blob = await (await api("/api/preview", { method: "POST", body: form })).blob();
    const img = $("preview");
    setBlob(img, blob);
    img.hidden = false;
    img.alt = "Quick preview of the content in the chosen style, strength " + Number(form.get("strength")).toFixed(2);
    img.dataset.ms = Math.round(performance.now() - t0);
    say("Preview in " + img.dataset.ms + " ms.");
  } catch (err) {
    say(err.message, true);
  } finally {
    previewBusy = false;
    if (previewAgain) { previewAgain = false; schedulePreview(); }
  }
}

// -- stylize: a queued job, progress from server-sent events, cancel ---------------------------------
// The job being followed is kept in sessionStorage, so a reload follows it again.
let currentJob = null, leaving = false, jobStream = null;
addEventListener("pagehide", () => { leaving = true; });  // the stream closing then is no error
addEventListener("pageshow", (e) => {  // back from the browser's page cache: follow the job again
  leaving = false;
  if (e.persisted) { currentJob = null; resumeJob(); }
});

$("go").addEventListener("click", async () => {
  if (!chosen.content) { say("Choose a content image first.", true); return; }
  const form = new FormData();
  form.append("content", chosen.content, chosen.content.name || "content.png");
  if (!addStyle(form, false)) { say("Choose a style first.", true); return; }
  const { method, init, transform } = methodChoice();
  form.append("method", method);
  if (init) form.append("init", init);
  if (transform) form.append("transform", transform);
  if (method === "adain") form.append("match", $("match").value);
  else if (init === "adain") form.append("init_match", $("match").value);  // the start's finish
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
    $("go").focus();
  }
});

function follow(job) {
  currentJob = job.id;
  sessionStorage.setItem("brushwork-job", job.id);
  $("go").disabled = true;
  $("progress").hidden = false;
  $("progress").value = job.progress || 0;
  $("cancel").hidden = false;
  // the Stylize button is disabled: focus would fall to the page; Cancel is what can be done now
  if ([$("go"), document.body, null].includes(document.activeElement)) $("cancel").focus();
  say(job.status === "running" ? "Painting... " + Math.round((job.progress || 0) * 100) + "%" : "Queued.");
  if (jobStream) jobStream.close();  // one stream per page, whatever followed the job before
  const events = jobStream = new EventSource(withToken("/api/jobs/" + job.id + "/events"));
  events.onmessage = (e) => {
    if (events !== jobStream) return;
    const j = JSON.parse(e.data);
    $("progress").value = j.progress;
    if (j.status === "running") say("Painting... " + Math.round(j.progress * 100) + "%");
    if (["done", "failed", "cancelled"].includes(j.status)) {
      events.close();
      finish(j);
    }
  };
  events.onerror = async () => {
    events.close();
    if (leaving || events !== jobStream) return;  // a reload (the next page follows the job), or a stream replaced
    try {  // the stream broke: ask for the job itself
      const j = await (await api("/api/jobs/" + job.id)).json();
      if (["done", "failed", "cancelled"].includes(j.status)) finish(j);
      else setTimeout(() => { if (currentJob === j.id) follow(j); }, 1000);
    } catch (err) {
      say("Lost the progress stream: " + err.message + (server.gallery ? " Finished results are in the gallery." : ""), true);
      finish(null);
    }
  };
}

function finish(job) {
  currentJob = null;
  if (jobStream) { jobStream.close(); jobStream = null; }
  sessionStorage.removeItem("brushwork-job");
  const wasHere = [$("cancel"), $("go"), document.body, null].includes(document.activeElement);
  $("go").disabled = false;
  $("cancel").hidden = true;
  $("progress").hidden = true;
  if (wasHere) $("go").focus();
  if (!job) return;
  if (job.status === "done") {
    const img = $("result");
    show(img, job.result.image_url);
    img.alt = "The stylized result" + (job.result.width ? ", " + job.result.width + "×" + job.result.height + " pixels" : "");
    downloadLink($("download"), job.result.image_url, job.result.image_url.split("/").pop());
    $("download").hidden = false;
    // With the gallery off, the server's note ("not recorded in the gallery") is the gallery panel's news.
    const note = job.result.note && server.gallery ? " " + job.result.note : "";
    say("Done in " + job.result.seconds + " s" + (job.result.gallery_id ? " (gallery item " + job.result.gallery_id + ")." : ".") + note);
    loadGallery();
  } else {
    say(job.status === "cancelled" ? "Cancelled." : "Failed: " + job.message, job.status !== "cancelled");
  }
}

// After a reload: follow the job this tab started, or show how it ended, if the server still knows it.
async function resumeJob() {
  const id = sessionStorage.getItem("brushwork-job");
  if (!id || currentJob) return;
  try {
    const job = await (await api("/api/jobs/" + encodeURIComponent(id))).json();
    if (["done", "failed", "cancelled"].includes(job.status)) finish(job);
    else follow(job);
  } catch (err) {
    sessionStorage.removeItem("brushwork-job");  // forgotten (a restart): its result, if any, is in the gallery
    if (err.status !== 404) say(err.message, true);
  }
}

$("cancel").addEventListener("click", async () => {
  if (currentJob) await api("/api/jobs/" + currentJob, { method: "DELETE" }).catch((err) => say(err.message, true));
});

// -- side panels -------------------------------------------------------------------------------------
function contentForm(msg) {
  if (!chosen.content) { sayIn(msg, "Choose a content image first.", true); return null; }
  const form = new FormData();
  form.append("image", chosen.contentSmall, "content.png");
  return form;
}

function clearPalette() { $("palette").replaceChildren(); $("harmony-note").textContent = ""; }
function clearComposition() {
  forget($("overlay"));
  $("overlay").hidden = true;
  $("crops").replaceChildren();
}
function clearContentPanels() {  // a new content picture: the panels' results were of the old one
  clearPalette();
  clearComposition();
  sayIn("palette-msg", "");
  sayIn("compose-msg", "");
}

$("palette-go").addEventListener("click", async () => {
  const form = contentForm("palette-msg");
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
    sayIn("palette-msg", "");
  } catch (err) { clearPalette(); sayIn("palette-msg", err.message, true); }
});

$("compose-go").addEventListener("click", async () => {
  const form = contentForm("compose-msg");
  if (!form) return;
  form.append("overlay", "true");
  try {
    const c = await (await api("/api/compose", { method: "POST", body: form })).json();
    show($("overlay"), c.overlay.image_url, (err) => sayIn("compose-msg", err.message, true));
    $("overlay").alt = "Composition overlay: thirds, saliency and suggested crops";
    $("crops").replaceChildren(...c.crops.map((k) => {
      const li = document.createElement("li");
      li.textContent = k.ratio + " (score " + k.score.toFixed(2) + "): " + k.reasons.join("; ");
      return li;
    }));
    sayIn("compose-msg", "");
  } catch (err) { clearComposition(); sayIn("compose-msg", err.message, true); }
});

$("gan-go").addEventListener("click", async () => {
  const img = $("gan");
  try {
    const r = await (await api("/api/gan/sample", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ seeds: $("seeds").value }),
    })).json();
    show(img, r.image_url, (err) => sayIn("gan-msg", err.message, true));
    img.alt = "GAN samples for seeds " + r.seeds.join(", ");
    sayIn("gan-msg", r.note && server.gallery ? r.note : "");
    loadGallery();
  } catch (err) {
    forget(img);
    img.hidden = true;
    sayIn("gan-msg", err.message, true);
  }
});

// -- gallery ------------------------------------------------------------------------------------------
// The gallery's own messages stay in its panel: the status line above keeps what the user did last.
const STYLE_OPERATIONS = ["stylize", "recolor"];  // pictures worth painting with (not overlays or GAN grids)
const GALLERY_PAGE = 40, GALLERY_REQUEST = 1000;   // GET /api/gallery takes a limit of at most 1000: more in pages
let galleryLimit = GALLERY_PAGE;
let galleryMore = false;          // the last load stopped at galleryLimit with items left
let galleryGeneration = 0;        // loads overlap (a job ends, the tab comes back): only the newest one draws
const reproducing = new Set();    // items whose rerun is going: their button stays disabled across redraws

function usableAsStyle(it) {
  return it.is_image && STYLE_OPERATIONS.includes(it.operation) && !(it.width < 16 || it.height < 16);
}

function prettyStyle(name) { return name.replace(/_/g, " ").replace(/\b\w/g, (c) => c.toUpperCase()); }

async function loadGallery() {
  const generation = ++galleryGeneration;
  let items = [], listed = false;
  $("gallery-refresh").hidden = !server.gallery;
  if (!server.gallery) {
    sayIn("gallery-msg", "The gallery is off on this server: results are saved, but not listed here.");
    $("gallery").querySelectorAll("img").forEach(forget);
    $("gallery").replaceChildren();
    $("gallery-more").hidden = true;
  } else {
    try {
      // the newest galleryLimit items, a request per 1000, each page after the last item of the one before
      let before = null;
      galleryMore = false;
      while (items.length < galleryLimit) {
        const page = await (await api("/api/gallery?limit=" + Math.min(GALLERY_REQUEST, galleryLimit - items.length)
                                      + (before ? "&before=" + before : ""))).json();
        items.push(...page.items);
        before = page.next_before;
        if (!before) break;
        galleryMore = items.length >= galleryLimit;
      }
      listed = true;
      if (generation === galleryGeneration) sayIn("gallery-msg", items.length ? "" : "Nothing yet: results appear here.");
    } catch (err) {  // the styles still load without it
      if (generation === galleryGeneration) sayIn("gallery-msg", err.message, true);
    }
  }
  try {
    const select = $("style-select");
    const styles = (await (await api("/api/styles")).json()).styles;
    if (generation !== galleryGeneration) return;  // a newer load is drawing
    const keep = select.value, keptOption = select.selectedOptions[0];  // the choice as it is now
    const usable = items.filter(usableAsStyle);
    const options = [new Option("(an uploaded image)", ""),
      ...styles.map((s) => new Option("Example: " + s.name.replace(/_/g, " "), s.name)),
      ...usable.map((it) => new Option("Gallery " + it.id + ": " + it.operation, "gallery:" + it.id))];
    let gone = null;
    if (keep.startsWith("gallery:") && !options.some((o) => o.value === keep)) {
      // not in this page of the gallery: still there (older, or the list failed), or deleted?
      let still = !listed;
      if (listed) {
        try { still = usableAsStyle(await (await api("/api/gallery/" + keep.slice(8))).json()); }
        catch (err) { still = err.status !== 404 && err.status !== 410; }
      }
      if (still) options.push(new Option(keptOption ? keptOption.textContent : "Gallery " + keep.slice(8), keep));
      else gone = keep.slice(8);
      if (generation !== galleryGeneration) return;
    }
    select.replaceChildren(...options);
    const uploaded = keep === "" && chosen.style;  // an uploaded style stays chosen
    select.value = uploaded || (keep && options.some((o) => o.value === keep)) ? keep : (styles[0] ? styles[0].name : "");
    showNamedStyle();
    if (gone) {
      say("Style #" + gone + " was deleted; using " + (select.value ? prettyStyle(select.value) : "no style") + ".");
      schedulePreview();
    }
    if (server.gallery) {
      $("gallery").querySelectorAll("img").forEach(forget);  // the old list's thumbnails
      $("gallery").replaceChildren(...items.map(galleryItem));
      $("gallery-more").hidden = !listed || !galleryMore;
    }
  } catch (err) { if (generation === galleryGeneration) sayIn("gallery-msg", err.message, true); }
}

// The recipe's command as one could type it: {input:N} as the input's name (an upload, stored under
// its sha256, as the first 12 hex digits), {output} as the output's name.
function recipeCommand(recipe) {
  const inputs = recipe.inputs || [];
  const named = (i) => {
    const e = inputs[Number(i)];
    if (!e) return "INPUT" + i;
    const m = /^([0-9a-f]{64})(\.\w+)?$/.exec(e.name || "");
    return m ? m[1].slice(0, 12) + "…" + (m[2] || "") : e.name || (e.sha256 || "").slice(0, 12) || "INPUT" + i;
  };
  const quote = (t) => (/^[\w@%+=:,./…-]+$/.test(t) ? t : "'" + t.replace(/'/g, "'\\''") + "'");
  return "brushwork " + recipe.command.map((tok) => quote(tok
    .replace(/\{input:(\d+)\}/g, (_, i) => named(i))
    .replace(/\{output\}/g, recipe.output_name || "OUTPUT")
    .replace(/\{output_dir\}/g, "OUTPUT_DIR")
    .replace(/\{scratch:([^}]*)\}/g, "SCRATCH$1"))).join(" ");
}

function actionButton(label, ariaLabel, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary";
  b.textContent = label;
  b.setAttribute("aria-label", ariaLabel);
  b.addEventListener("click", onClick);
  return b;
}

function galleryItem(it) {
  const li = document.createElement("li");
  li.dataset.id = it.id;
  const img = document.createElement("img");
  img.loading = "lazy";  // (a long gallery: the thumbnails scrolled to)
  show(img, it.thumbnail_url, () => {});  // a missing thumbnail is no news
  img.alt = it.operation + " " + it.id;
  const text = document.createElement("div");
  const when = new Date(it.created_at).toLocaleString();
  const hasCommand = !!(it.recipe && it.recipe.command);
  const title = document.createElement("strong");
  title.textContent = "#" + it.id + " " + it.operation;
  const meta = document.createElement("div");
  meta.textContent = when + " · " + it.width + "×" + it.height + (it.tags.length ? " · " + it.tags.join(", ") : "");
  const recipe = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "recipe";
  const pre = document.createElement("pre");
  pre.textContent = hasCommand ? recipeCommand(it.recipe) : JSON.stringify(it.recipe, null, 1);
  recipe.append(summary, pre);
  const actions = document.createElement("div");
  actions.className = "actions";
  const download = document.createElement("a");
  downloadLink(download, it.file_url, it.path.split(/[\\/]/).pop());
  download.textContent = "download";
  download.setAttribute("download", "");
  download.setAttribute("aria-label", "download item " + it.id);
  actions.append(download);
  if (usableAsStyle(it)) {
    actions.append(actionButton("use as style", "use item " + it.id + " as the style", () => {
      $("style-select").value = "gallery:" + it.id;
      showNamedStyle();
      schedulePreview();
    }));
  }
  if (hasCommand) {  // GAN samples and overlays have no command to run again
    const label = "reproduce item " + it.id;
    const again = actionButton("reproduce", label, async () => {
      if (reproducing.has(it.id)) return;
      reproducing.add(it.id);
      again.disabled = true;
      sayIn("gallery-msg", "Reproducing item " + it.id + "...");
      try {
        let job = await (await api("/api/gallery/" + it.id + "/reproduce", { method: "POST" })).json();
        while (!["done", "failed", "cancelled"].includes(job.status)) {
          await new Promise((r) => setTimeout(r, 300));
          job = await (await api("/api/jobs/" + job.id)).json();
        }
        sayIn("gallery-msg", job.status === "done" ? "Item " + it.id + ": " + job.result.summary
          : "Reproducing item " + it.id + " failed: " + job.message, job.status !== "done");
      } catch (err) { sayIn("gallery-msg", "Item " + it.id + ": " + err.message, true); }
      reproducing.delete(it.id);
      // the list may have been drawn again meanwhile: enable the button that shows now
      document.querySelectorAll("#gallery button").forEach((b) => {
        if (b.getAttribute("aria-label") === label) b.disabled = false;
      });
    });
    again.disabled = reproducing.has(it.id);
    actions.append(again);
  }
  actions.append(actionButton("delete", "delete item " + it.id, async () => {
    if (!confirm("Forget gallery item " + it.id + "? (The file stays on disk.)")) return;
    try {
      await api("/api/gallery/" + it.id, { method: "DELETE" });
    } catch (err) { sayIn("gallery-msg", err.message, true); }
    loadGallery();
  }));
  text.append(title, meta, recipe, actions);
  li.append(img, text);
  return li;
}

$("gallery-refresh").addEventListener("click", loadGallery);
$("gallery-more").addEventListener("click", () => {
  galleryLimit += GALLERY_PAGE;
  loadGallery();
});
// Back to this tab: what other tabs (or the CLI) made meanwhile appears.
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") loadGallery(); });

// -- start: what the server offers, then the gallery, the styles and any job this tab was following --
async function start() {
  try {
    const health = await (await api("/api/health")).json();
    server = { gallery: health.gallery !== false, limits: health.limits || {} };
  } catch (err) { say(err.message, true); return; }
  await loadGallery();
  resumeJob();
  schedulePreview();
}
previewCaption();
matchChoice();  // (a reload may bring back a Gatys choice: the browser restores the form)
start();
