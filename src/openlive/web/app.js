// openlive playground: a Live API session in the browser, over the same wire protocol the SDKs speak.

import { Microphone, Player, rateFromMime } from "./audio.js";
import { LiveConnection, base64ToBytes } from "./live-client.js";

// The 30 prebuilt Gemini Live voices (default Puck), as in openlive/protocol/voices.py.
const VOICES = [
  "Puck", "Zephyr", "Kore", "Orus", "Autonoe", "Umbriel", "Erinome", "Laomedeia", "Schedar", "Achird",
  "Sadachbia", "Fenrir", "Aoede", "Enceladus", "Algieba", "Algenib", "Achernar", "Gacrux", "Zubenelgenubi",
  "Sadaltager", "Charon", "Leda", "Callirrhoe", "Iapetus", "Despina", "Rasalgethi", "Alnilam",
  "Pulcherrima", "Vindemiatrix", "Sulafat",
];
const FRAME_INTERVAL_MS = 1000; // the API takes about one video frame per second
const FRAME_MAX_SIDE = 768; // the recommended native resolution
const SETTINGS_KEY = "openlive.playground.settings";

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"), connect: $("connect"), model: $("model"), models: $("models"), apiKey: $("apiKey"),
  voice: $("voice"), language: $("language"), system: $("system"), micOn: $("micOn"), cameraOn: $("cameraOn"),
  screenOn: $("screenOn"), level: $("level"), vad: $("vad"), preview: $("preview"), transcript: $("transcript"),
  textForm: $("textForm"), textInput: $("textInput"), sendText: $("sendText"), latencyLast: $("latencyLast"),
  latencyMedian: $("latencyMedian"), turns: $("turns"),
};

// Everything the page measured, also read by the browser test.
const stats = {
  state: "disconnected", audioChunks: 0, audioSeconds: 0, latenciesMs: [], turns: 0, interruptions: 0,
  inputTranscript: "", outputTranscript: "", textReply: "", framesSent: 0, closeCode: null, closeReason: "",
  speechEnds: [], // performance.now() of each detected end of the user's speech
  scheduledSeconds: 0, // reply audio handed to the audio output
  contextState: null,
};
window.openlive = { stats };

let connection = null;
let context = null;
let mic = null;
let player = null;
let video = null; // { stream, timer, kind }
let speechEndAt = null; // performance.now() of the end of the user's last utterance, until answered
let replyStarted = false; // has the current model turn produced audio yet?
let userBubble = null;
let modelBubble = null;

// ------------------------------------------------------------------------------------------------
// Settings

function loadSettings() {
  for (const v of VOICES) ui.voice.add(new Option(v, v));
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
  } catch {
    saved = {};
  }
  ui.voice.value = VOICES.includes(saved.voice) ? saved.voice : "Puck";
  if (saved.model) ui.model.value = saved.model;
  if (saved.language !== undefined) ui.language.value = saved.language;
  if (saved.system) ui.system.value = saved.system;
  if (saved.apiKey) ui.apiKey.value = saved.apiKey;
  if (saved.modality) document.querySelector(`input[name=modality][value=${saved.modality}]`).checked = true;
  // URL parameters win (handy for links and for tests): ?key=…&voice=…&lang=…&modality=TEXT
  const params = new URLSearchParams(location.search);
  if (params.has("key")) ui.apiKey.value = params.get("key");
  if (params.has("voice")) ui.voice.value = params.get("voice");
  if (params.has("lang")) ui.language.value = params.get("lang");
  if (params.has("model")) ui.model.value = params.get("model");
  if (params.has("modality")) {
    const radio = document.querySelector(`input[name=modality][value=${params.get("modality").toUpperCase()}]`);
    if (radio) radio.checked = true;
  }
}

function saveSettings() {
  const settings = {
    model: ui.model.value, voice: ui.voice.value, language: ui.language.value, system: ui.system.value,
    apiKey: ui.apiKey.value, modality: modality(),
  };
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
}

function modality() {
  return document.querySelector("input[name=modality]:checked").value;
}

async function loadModels() {
  // Suggestions for the model box; the server works without them.
  try {
    const headers = ui.apiKey.value ? { "x-goog-api-key": ui.apiKey.value } : {};
    const res = await fetch("/v1beta/models", { headers });
    if (!res.ok) return;
    const body = await res.json();
    ui.models.replaceChildren(...(body.models || []).map((m) => new Option(m.description || "", m.name.replace(/^models\//, ""))));
  } catch {
    // not an openlive server, or offline: no suggestions
  }
}

function buildSetup() {
  const speechConfig = { voiceConfig: { prebuiltVoiceConfig: { voiceName: ui.voice.value } } };
  if (ui.language.value) speechConfig.languageCode = ui.language.value;
  const model = ui.model.value.trim();
  const setup = {
    model: model.includes("/") ? model : `models/${model}`,
    generationConfig: { responseModalities: [modality()], speechConfig },
    inputAudioTranscription: {},
    outputAudioTranscription: {},
  };
  if (ui.system.value.trim()) setup.systemInstruction = { parts: [{ text: ui.system.value.trim() }] };
  return setup;
}

// ------------------------------------------------------------------------------------------------
// UI state

function setState(name, text) {
  stats.state = name;
  ui.state.className = `state state-${name}`;
  ui.state.textContent = text || name;
  ui.state.title = text || name;
  const connected = name === "connected";
  ui.connect.textContent = connected || name === "connecting" ? "Disconnect" : "Connect";
  ui.textInput.disabled = ui.sendText.disabled = !connected;
  for (const el of [ui.model, ui.apiKey, ui.voice, ui.language, ui.system]) el.disabled = connected || name === "connecting";
  for (const el of document.querySelectorAll("input[name=modality]")) el.disabled = connected || name === "connecting";
}

function bubble(role, text = "") {
  const li = document.createElement("li");
  li.className = `${role} partial`;
  li.textContent = text;
  ui.transcript.append(li);
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
  return li;
}

function appendTo(li, text) {
  li.firstChild ? (li.firstChild.textContent += text) : li.prepend(document.createTextNode(text));
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

function note(text) {
  const li = bubble("system", text);
  li.classList.remove("partial");
}

function finishBubble(li, meta) {
  if (!li) return;
  li.classList.remove("partial");
  if (meta) {
    const span = document.createElement("span");
    span.className = "meta";
    span.textContent = meta;
    li.append(span);
  }
}

function showLatency(ms) {
  stats.latenciesMs.push(ms);
  const sorted = [...stats.latenciesMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  ui.latencyLast.textContent = `${Math.round(ms)} ms`;
  ui.latencyMedian.textContent = `${Math.round(median)} ms`;
}

// ------------------------------------------------------------------------------------------------
// Server messages

function onServerMessage(msg) {
  const content = msg.serverContent;
  if (content) {
    if (content.interrupted) {
      player.flush(); // stop talking at once: the user barged in
      stats.interruptions++;
      finishBubble(modelBubble, "interrupted");
      modelBubble = null;
      replyStarted = false;
    }
    if (content.inputTranscription && content.inputTranscription.text) {
      if (!userBubble) userBubble = bubble("user");
      appendTo(userBubble, content.inputTranscription.text);
      stats.inputTranscript += content.inputTranscription.text;
    }
    for (const part of (content.modelTurn && content.modelTurn.parts) || []) {
      if (part.inlineData && (part.inlineData.mimeType || "").startsWith("audio/")) {
        onReplyAudio(base64ToBytes(part.inlineData.data), rateFromMime(part.inlineData.mimeType));
      } else if (part.text && !part.thought) {
        modelText(part.text);
        stats.textReply += part.text;
      }
    }
    if (content.outputTranscription && content.outputTranscription.text) {
      modelText(content.outputTranscription.text);
      stats.outputTranscript += content.outputTranscription.text;
    }
    if (content.turnComplete) {
      stats.turns++;
      ui.turns.textContent = String(stats.turns);
      finishBubble(userBubble);
      finishBubble(modelBubble, modelBubble && modelBubble.dataset.latency ? `${modelBubble.dataset.latency} ms to first audio` : "");
      userBubble = modelBubble = null;
      replyStarted = false;
    }
  }
  if (msg.toolCall) note(`tool call: ${(msg.toolCall.functionCalls || []).map((c) => c.name).join(", ")} (the playground has no tools)`);
  if (msg.goAway) note(`server will close the connection in ${msg.goAway.timeLeft}`);
}

function modelText(text) {
  if (userBubble) {
    finishBubble(userBubble);
    userBubble = null;
  }
  if (!modelBubble) modelBubble = bubble("model");
  appendTo(modelBubble, text);
}

function onReplyAudio(bytes, rate) {
  stats.contextState = context.state;
  stats.audioChunks++;
  stats.audioSeconds += bytes.byteLength / 2 / rate;
  if (!replyStarted) {
    replyStarted = true;
    if (speechEndAt !== null) {
      const ms = performance.now() - speechEndAt;
      speechEndAt = null;
      showLatency(ms);
      if (!modelBubble) modelBubble = bubble("model");
      modelBubble.dataset.latency = String(Math.round(ms));
    }
  }
  player.play(bytes, rate);
  stats.scheduledSeconds = player.scheduledSeconds;
}

// ------------------------------------------------------------------------------------------------
// Media

async function startMic() {
  mic = new Microphone(context);
  mic.addEventListener("audio", (e) => {
    connection.sendAudio(e.detail.pcm);
    ui.level.style.width = `${Math.min(100, Math.sqrt(e.detail.level) * 250)}%`;
  });
  mic.addEventListener("speech-start", () => {
    ui.vad.textContent = "you are speaking…";
  });
  mic.addEventListener("speech-end", (e) => {
    // The worklet reports how long ago the voice stopped (its hangover); date the end of speech by it.
    speechEndAt = performance.now() - e.detail.agoS * 1000;
    stats.speechEnds.push(Math.round(speechEndAt));
    ui.vad.textContent = "listening";
  });
  await mic.start();
  ui.vad.textContent = "listening";
}

function stopMic() {
  if (mic) mic.stop();
  mic = null;
  ui.level.style.width = "0";
  ui.vad.textContent = "not listening";
}

async function startVideo(kind) {
  stopVideo();
  const stream =
    kind === "screen"
      ? await navigator.mediaDevices.getDisplayMedia({ video: true })
      : await navigator.mediaDevices.getUserMedia({ video: { width: 768, height: 768 } });
  ui.preview.srcObject = stream;
  ui.preview.hidden = false;
  await ui.preview.play().catch(() => {});
  const canvas = document.createElement("canvas");
  const timer = setInterval(() => sendFrame(canvas), FRAME_INTERVAL_MS);
  video = { stream, timer, kind };
  stream.getVideoTracks()[0].addEventListener("ended", () => {
    (kind === "screen" ? ui.screenOn : ui.cameraOn).checked = false;
    stopVideo();
  });
}

function sendFrame(canvas) {
  const el = ui.preview;
  if (!connection || !el.videoWidth) return;
  const scale = Math.min(1, FRAME_MAX_SIDE / Math.max(el.videoWidth, el.videoHeight));
  canvas.width = Math.round(el.videoWidth * scale);
  canvas.height = Math.round(el.videoHeight * scale);
  canvas.getContext("2d").drawImage(el, 0, 0, canvas.width, canvas.height);
  canvas.toBlob(
    async (blob) => {
      if (!blob || !connection) return;
      connection.sendVideo(new Uint8Array(await blob.arrayBuffer()));
      stats.framesSent++;
    },
    "image/jpeg",
    0.7,
  );
}

function stopVideo() {
  if (!video) return;
  clearInterval(video.timer);
  video.stream.getTracks().forEach((t) => t.stop());
  video = null;
  ui.preview.srcObject = null;
  ui.preview.hidden = true;
}

// ------------------------------------------------------------------------------------------------
// Connect / disconnect

async function connect() {
  saveSettings();
  setState("connecting", "connecting…");
  context = context || new AudioContext();
  await context.resume();
  player = player || new Player(context);
  window.openlive.player = player;
  connection = new LiveConnection();
  connection.addEventListener("message", (e) => onServerMessage(e.detail));
  connection.addEventListener("close", (e) => onClosed(e.detail));
  try {
    await connection.connect(ui.apiKey.value.trim(), buildSetup());
  } catch (err) {
    return; // onClosed has shown why
  }
  setState("connected", `connected · ${ui.voice.value}`);
  note(`connected to ${location.host}`);
  try {
    if (ui.micOn.checked) await startMic();
    if (ui.cameraOn.checked) await startVideo("camera");
    else if (ui.screenOn.checked) await startVideo("screen");
  } catch (err) {
    note(`media: ${err.message || err}`);
  }
}

function onClosed({ code, reason }) {
  stats.closeCode = code;
  stats.closeReason = reason;
  stopMic();
  stopVideo();
  if (player) player.flush();
  connection = null;
  if (code === 1000 || code === 1001) {
    setState("disconnected", reason && code !== 1000 ? `closed: ${reason}` : "disconnected");
  } else {
    setState("error", `closed ${code}${reason ? `: ${reason}` : ""}`);
    note(`connection closed (${code}) ${reason || ""}`);
  }
}

function disconnect() {
  if (connection) connection.close();
}

// ------------------------------------------------------------------------------------------------
// Wiring

loadSettings();
setState("disconnected");
loadModels();

ui.connect.addEventListener("click", () => (connection ? disconnect() : connect()));
ui.apiKey.addEventListener("change", loadModels);
ui.micOn.addEventListener("change", async () => {
  if (!connection || !connection.ready) return;
  if (ui.micOn.checked) await startMic().catch((err) => note(`microphone: ${err.message || err}`));
  else stopMic();
});
for (const [box, kind, other] of [[ui.cameraOn, "camera", ui.screenOn], [ui.screenOn, "screen", ui.cameraOn]]) {
  box.addEventListener("change", async () => {
    if (box.checked) other.checked = false;
    if (!connection || !connection.ready) return;
    if (box.checked) await startVideo(kind).catch((err) => { box.checked = false; note(`${kind}: ${err.message || err}`); });
    else stopVideo();
  });
}
ui.textForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.textInput.value.trim();
  if (!text || !connection) return;
  player.flush(); // a typed message interrupts the reply, as on the server
  connection.sendText(text);
  finishBubble(userBubble);
  userBubble = null;
  bubble("user", text).classList.remove("partial");
  ui.textInput.value = "";
});
