// One Live conversation through the Firebase AI Logic Web SDK (firebase/ai), redirected to openlive by
// replacing the global WebSocket (redirect_websocket.mjs). Node 20 needs --experimental-websocket:
//
//   node --experimental-websocket firebase_live.mjs --server ws://127.0.0.1:8765 --modality TEXT
//
// --backend googleai|vertexai   GoogleAIBackend (…GenerativeService/BidiGenerateContent) or
//                               VertexAIBackend(location) (…LlmBidiService/BidiGenerateContent/locations/L)
// --send client-content|realtime-text   session.send(text) or session.sendTextRealtime(text)
// --send realtime-audio   session.sendAudioRealtime({mimeType: 'audio/pcm', data}) with --audio-file (raw
//                         16 kHz PCM16) in 100 ms chunks at real-time pace, then silence; Firebase has no
//                         audioStreamEnd, and its own startAudioConversation sends plain 'audio/pcm'
// --tool   declares get_weather(city) (Schema.object, which sends lowercase JSON-schema types) and answers
//          each toolCall with sendFunctionResponses; the calls are reported under "toolCalls".
// --resume   connect({}) (asks for session resumption), keeps the last handle from the
//            sessionResumptionUpdate messages, then session.resumeSession({handle}) and a second turn,
//            reported under "resumed".
// --barge-in asks for a long answer and, at the first model content, session.send()s a second turn;
//            reads until two turnCompletes (the interrupted turn's and the new one's).
// --video-file F   before the turn, sends the JPEG in F as camera frames with session.sendVideoRealtime
//                  ({mimeType: 'image/jpeg', data}) at 2 fps for 2 s (Firebase's video path).
// For wss:// with a self-signed certificate, run with NODE_EXTRA_CA_CERTS=cert.pem.
// Prints one JSON line (see common.mjs) and exits 0 when the turn completed.
import { redirectFirebaseLive } from './redirect_websocket.mjs';
import {
  DEFAULT_MODEL,
  DEFAULT_PROMPT,
  BARGE_IN_PROMPTS,
  RESUME_PROMPTS,
  TOOL_PROMPT,
  TOOL_RESULT,
  Transcript,
  options,
  streamPcm16k,
  within,
} from './common.mjs';

const opts = options({
  server: { type: 'string' },
  'api-key': { type: 'string' },
  model: { type: 'string' },
  modality: { type: 'string' },
  send: { type: 'string' },
  text: { type: 'string' },
  backend: { type: 'string' },
  location: { type: 'string' },
  tool: { type: 'boolean' },
  resume: { type: 'boolean' },
  'barge-in': { type: 'boolean' },
  temperature: { type: 'string' },
  'audio-file': { type: 'string' },
  'video-file': { type: 'string' },
  'input-transcription': { type: 'boolean' },
  'output-transcription': { type: 'boolean' },
  'timeout-ms': { type: 'string' },
});
const server = opts.server ?? 'ws://127.0.0.1:8765';
const model = opts.model ?? DEFAULT_MODEL;
const modality = (opts.modality ?? 'TEXT').toUpperCase();
const send = opts.send ?? 'client-content';
const backendName = opts.backend ?? 'googleai';
const bargeIn = !!opts['barge-in'];
const defaultPrompt = opts.tool
  ? TOOL_PROMPT
  : opts.resume
    ? RESUME_PROMPTS[0]
    : bargeIn
      ? BARGE_IN_PROMPTS[0]
      : DEFAULT_PROMPT;
const prompt = opts.text ?? defaultPrompt;

const t = new Transcript({ client: 'firebase', server, model, modality, send, backend: backendName });
t.watchdog(Number(opts['timeout-ms'] ?? 150000));

async function main() {
  const wire = redirectFirebaseLive(server);
  t.wire = wire;
  // Imported after the redirect is installed, so nothing in the SDK can capture the native class first.
  const { initializeApp } = await import('firebase/app');
  const { getAI, getLiveGenerativeModel, GoogleAIBackend, VertexAIBackend, ResponseModality, Schema } =
    await import('firebase/ai');
  const app = initializeApp({ apiKey: opts['api-key'] ?? 'anything', projectId: 'demo', appId: '1:1:web:1' });
  const backend =
    backendName === 'vertexai' ? new VertexAIBackend(opts.location ?? 'us-central1') : new GoogleAIBackend();
  const ai = getAI(app, { backend });
  const generationConfig = {
    responseModalities: [modality === 'AUDIO' ? ResponseModality.AUDIO : ResponseModality.TEXT],
  };
  if (opts.temperature !== undefined) generationConfig.temperature = Number(opts.temperature);
  if (opts['input-transcription']) generationConfig.inputAudioTranscription = {};
  if (opts['output-transcription']) generationConfig.outputAudioTranscription = {};
  const params = { model, generationConfig };
  if (opts.tool) {
    const parameters = Schema.object({ properties: { city: Schema.string() } });
    const getWeather = { name: 'get_weather', description: 'The current weather in a city.', parameters };
    params.tools = [{ functionDeclarations: [getWeather] }];
  }
  const live = getLiveGenerativeModel(ai, params);

  const session = await live.connect(opts.resume ? {} : undefined);
  // connect() resolves only when the first server message carried setupComplete.
  t.summary.setupComplete = true;
  if (opts['video-file']) {
    const { readFileSync } = await import('node:fs');
    const data = readFileSync(opts['video-file']).toString('base64');
    for (let i = 0; i < 4; i++) {
      await session.sendVideoRealtime({ mimeType: 'image/jpeg', data });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  if (send === 'client-content') {
    await session.send(prompt);
  } else if (send === 'realtime-text') {
    await session.sendTextRealtime(prompt);
  } else if (send === 'realtime-audio') {
    await streamPcm16k(opts['audio-file'], (data) =>
      session.sendAudioRealtime({ mimeType: 'audio/pcm', data }),
    );
  } else {
    throw new Error(`unknown --send ${send}`);
  }
  await receiveTurn(session, t);
  if (opts.resume) {
    const handle = t.summary.resumptionHandles.at(-1);
    if (!handle) throw new Error('no resumable sessionResumptionUpdate with a newHandle arrived');
    const r = new Transcript({});
    t.summary.resumed = r.summary;
    try {
      await session.resumeSession({ handle });
      r.summary.setupComplete = true;
      await session.send(RESUME_PROMPTS[1]);
      await receiveTurn(session, r);
    } catch (err) {
      r.fail(err);
    }
  }
  await within(session.close(), 3000);
}

let bargedIn = false;

/**
 * Reads `session.receive()` into `tr` until turnComplete, answering tool calls on the way. With --resume
 * it reads on (for at most 3 s) until a resumable handle has arrived, since that update may follow
 * turnComplete. A read still pending then ends when the socket closes.
 */
async function receiveTurn(session, tr) {
  const messages = session.receive();
  let turnOverAt = null;
  const wantHandle = () => opts.resume && tr.summary.resumptionHandles.length === 0;
  for (;;) {
    const next = messages.next();
    const timeLeft = turnOverAt === null ? null : turnOverAt + 3000 - Date.now();
    const timeout = () => new Promise((r) => setTimeout(r, timeLeft, null));
    const result = timeLeft === null ? await next : await Promise.race([next, timeout()]);
    if (result === null || result.done) break;
    const msg = result.value;
    tr.summary.messageKinds.push(msg.type);
    if (msg.type === 'sessionResumptionUpdate') tr.recordResumption(msg);
    if (msg.type === 'toolCall') {
      tr.recordToolCalls(msg.functionCalls);
      await session.sendFunctionResponses(
        (msg.functionCalls ?? []).map((fc) => ({ id: fc.id, name: fc.name, response: TOOL_RESULT })),
      );
    }
    if (msg.type === 'serverContent') {
      tr.recordContent(msg);
      if (bargeIn && !bargedIn && msg.modelTurn) {
        bargedIn = true;
        await session.send(BARGE_IN_PROMPTS[1]);
      }
      const turnsWanted = bargeIn && tr === t ? 2 : 1;
      if (msg.turnComplete && tr.summary.turnCompletes >= turnsWanted) turnOverAt = Date.now();
    }
    if (turnOverAt !== null && !wantHandle()) break;
  }
}

function addWireFacts() {
  const wire = t.wire;
  if (!wire) return;
  t.summary.urls = wire.urls;
  const frames = wire.frames.filter((f) => f !== null);
  t.summary.wireKinds = frames.map((f) => Object.keys(f).join('+'));
  const usage = frames.filter((f) => f.usageMetadata).at(-1);
  t.summary.usage = usage ? usage.usageMetadata : null;
  t.closed(wire.closeCode, wire.closeReason);
}

main()
  .catch((err) => t.fail(err))
  .finally(async () => {
    await new Promise((r) => setTimeout(r, 100)); // let the last Blob frames decode
    addWireFacts();
    t.finish();
  });
