// One Live conversation through the official @google/genai Node SDK, pointed at openlive by baseUrl only.
//
//   node genai_live.mjs --base-url http://127.0.0.1:8765 --modality TEXT --send client-content
//
// --send client-content   session.sendClientContent({turns, turnComplete: true})
// --send realtime-text    session.sendRealtimeInput({text})
// --send realtime-audio   session.sendRealtimeInput({audio}) with --audio-file (raw 16 kHz PCM16), in
//                         100 ms chunks at real-time pace, then silence and {audioStreamEnd: true}
// --ephemeral             ai.authTokens.create({config: {uses: 1}}) first, then connect with the token
//                         (the SDK then uses ...BidiGenerateContentConstrained?access_token=auth_tokens/...)
//                         and try a second connection with the spent token (reported under "reuse").
// --tool                  declares get_weather(city), answers each toolCall with sendToolResponse
//                         (default prompt: TOOL_PROMPT); the calls are reported under "toolCalls".
// --resume                asks for session resumption (sessionResumption: {}), keeps the last handle from
//                         sessionResumptionUpdate, closes, reconnects with {handle} and holds a second
//                         turn there; the second connection is reported under "resumed".
// --barge-in              asks for a long answer and, as soon as the first model content arrives, sends a
//                         second clientContent turn; waits for two turnCompletes (the interrupted turn's
//                         and the new one's). See "interrupted" and "contentEvents".
// --vertex                Vertex AI express mode (API key header, LlmBidiService path).
// For https:// base URLs with a self-signed certificate, run with NODE_EXTRA_CA_CERTS=cert.pem.
// Prints one JSON line (see common.mjs) and exits 0 when the turn completed.
import { GoogleGenAI, Modality, Type } from '@google/genai';
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
  until,
  within,
} from './common.mjs';

const opts = options({
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  'api-version': { type: 'string' },
  model: { type: 'string' },
  modality: { type: 'string' },
  send: { type: 'string' },
  text: { type: 'string' },
  'audio-file': { type: 'string' },
  'input-transcription': { type: 'boolean' },
  'output-transcription': { type: 'boolean' },
  ephemeral: { type: 'boolean' },
  tool: { type: 'boolean' },
  resume: { type: 'boolean' },
  'barge-in': { type: 'boolean' },
  temperature: { type: 'string' },
  vertex: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
});
const baseUrl = opts['base-url'] ?? 'http://127.0.0.1:8765';
const apiKey = opts['api-key'] ?? 'anything';
const model = opts.model ?? DEFAULT_MODEL;
const modality = (opts.modality ?? 'TEXT').toUpperCase();
const send = opts.send ?? 'client-content';
const bargeIn = !!opts['barge-in'];
const defaultPrompt = opts.tool
  ? TOOL_PROMPT
  : opts.resume
    ? RESUME_PROMPTS[0]
    : bargeIn
      ? BARGE_IN_PROMPTS[0]
      : DEFAULT_PROMPT;
const prompt = opts.text ?? defaultPrompt;

const t = new Transcript({ client: 'genai', baseUrl, model, modality, send, ephemeral: !!opts.ephemeral });
t.watchdog(Number(opts['timeout-ms'] ?? 150000));

function liveConfig(resumption = undefined) {
  const config = { responseModalities: [modality === 'AUDIO' ? Modality.AUDIO : Modality.TEXT] };
  if (resumption !== undefined) config.sessionResumption = resumption;
  if (opts.temperature !== undefined) config.temperature = Number(opts.temperature);
  if (opts['input-transcription']) config.inputAudioTranscription = {};
  if (opts['output-transcription']) config.outputAudioTranscription = {};
  if (opts.tool) {
    config.tools = [
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'The current weather in a city.',
            parameters: {
              type: Type.OBJECT,
              properties: { city: { type: Type.STRING } },
              required: ['city'],
            },
          },
        ],
      },
    ];
  }
  return config;
}

/** Creates a single-use ephemeral token through the REST endpoint, as Google's docs show. */
async function createToken() {
  const admin = new GoogleGenAI({ apiKey, httpOptions: { baseUrl } });
  const now = Date.now();
  const token = await admin.authTokens.create({
    config: {
      uses: 1,
      expireTime: new Date(now + 30 * 60 * 1000).toISOString(),
      newSessionExpireTime: new Date(now + 60 * 1000).toISOString(),
      httpOptions: { apiVersion: 'v1alpha' },
    },
  });
  t.summary.tokenName = token?.name ?? null;
  if (typeof token?.name !== 'string') {
    throw new Error(`authTokens.create returned no name: ${JSON.stringify(token)}`);
  }
  return token.name;
}

function client(key) {
  const httpOptions = { baseUrl };
  if (opts['api-version']) httpOptions.apiVersion = opts['api-version'];
  if (key.startsWith('auth_tokens/')) httpOptions.apiVersion = opts['api-version'] ?? 'v1alpha';
  return opts.vertex
    ? new GoogleGenAI({ vertexai: true, apiKey: key, httpOptions })
    : new GoogleGenAI({ apiKey: key, httpOptions });
}

/** Connects once more with a token that has been used up; the server must refuse it. */
async function tryReuse(key) {
  const reuse = { connected: false, closeCode: null, closeReason: null, error: null };
  try {
    const session = await client(key).live.connect({
      model,
      config: liveConfig(),
      callbacks: {
        onmessage: () => {},
        onclose: (e) => {
          reuse.closeCode ??= e?.code ?? null;
          reuse.closeReason ??= e?.reason ?? null;
        },
      },
    });
    reuse.connected = true;
    session.close();
  } catch (err) {
    reuse.error = String(err?.message ?? err);
  }
  return reuse;
}

/** A second connection that resumes `handle` and holds one more text turn; returns its own summary. */
async function resumeAndAsk(key, handle) {
  const r = new Transcript({});
  let turnDone;
  const turnFinished = new Promise((resolve) => (turnDone = resolve));
  try {
    const session = await client(key).live.connect({
      model,
      config: liveConfig({ handle }),
      callbacks: {
        onmessage: (msg) => {
          r.record(msg);
          if (msg.serverContent?.turnComplete) turnDone();
        },
        onclose: (e) => {
          r.closed(e?.code, e?.reason);
          turnDone();
        },
      },
    });
    const turns = [{ role: 'user', parts: [{ text: RESUME_PROMPTS[1] }] }];
    session.sendClientContent({ turns, turnComplete: true });
    await turnFinished;
    session.close();
  } catch (err) {
    r.fail(err);
  }
  return r.summary;
}

async function main() {
  const key = opts.ephemeral ? await createToken() : apiKey;
  let turnDone;
  const turnFinished = new Promise((resolve) => (turnDone = resolve));
  let closedResolve;
  const closed = new Promise((resolve) => (closedResolve = resolve));
  let bargedIn = false;
  const session = await client(key).live.connect({
    model,
    config: liveConfig(opts.resume ? {} : undefined),
    callbacks: {
      onmessage: (msg) => {
        t.record(msg);
        if (bargeIn && !bargedIn && msg.serverContent?.modelTurn) {
          // "A message here will interrupt any current model generation" (clientContent, reference §3.1).
          bargedIn = true;
          const turns = [{ role: 'user', parts: [{ text: BARGE_IN_PROMPTS[1] }] }];
          session.sendClientContent({ turns, turnComplete: true });
        }
        if (msg.toolCall) {
          const functionResponses = (msg.toolCall.functionCalls ?? []).map((fc) => ({
            id: fc.id,
            name: fc.name,
            response: TOOL_RESULT,
          }));
          session.sendToolResponse({ functionResponses });
        }
        if (msg.serverContent?.turnComplete && t.summary.turnCompletes >= (bargeIn ? 2 : 1)) turnDone();
      },
      onerror: (e) => t.fail(e?.message ?? 'WebSocket error'),
      onclose: (e) => {
        t.closed(e?.code, e?.reason);
        turnDone();
        closedResolve();
      },
    },
  });
  if (send === 'client-content') {
    session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: prompt }] }], turnComplete: true });
  } else if (send === 'realtime-text') {
    session.sendRealtimeInput({ text: prompt });
  } else if (send === 'realtime-audio') {
    await streamPcm16k(opts['audio-file'], (data) =>
      session.sendRealtimeInput({ audio: { data, mimeType: 'audio/pcm;rate=16000' } }),
    );
    session.sendRealtimeInput({ audioStreamEnd: true });
  } else {
    throw new Error(`unknown --send ${send}`);
  }
  await turnFinished;
  // The handle update may follow turnComplete (a session is resumable once the turn is over).
  if (opts.resume) await until(() => t.summary.resumptionHandles.length > 0, 3000);
  session.close();
  await within(closed, 3000);
  if (opts.ephemeral) t.summary.reuse = await tryReuse(key);
  if (opts.resume) {
    const handle = t.summary.resumptionHandles.at(-1);
    if (!handle) throw new Error('no resumable sessionResumptionUpdate with a newHandle arrived');
    t.summary.resumed = await resumeAndAsk(key, handle);
  }
}

main()
  .catch((err) => t.fail(err))
  .finally(() => t.finish());
