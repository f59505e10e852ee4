// Shared plumbing for the client scripts: option parsing, a transcript of what the server sent, and the
// single JSON summary line that tests/server/test_js_clients.py parses. Every script prints exactly one
// JSON line on stdout (SDK warnings go to stderr) and exits 0 only when the conversation completed.
import { parseArgs } from 'node:util';

export const DEFAULT_MODEL = 'gemini-2.5-flash-native-audio-preview-12-2025';
export const DEFAULT_PROMPT = 'Say hello in one short sentence.';
export const TOOL_PROMPT = 'Use the get_weather tool to find out the weather in Paris, then tell me.';
export const RESUME_PROMPTS = ['My name is Alice. Reply with one short sentence.', 'What is my name?'];
export const BARGE_IN_PROMPTS = [
  'Tell me a long story about a dragon who learns to bake bread. Make it at least ten sentences.',
  'Stop. Just say okay.',
];
export const TOOL_RESULT = { weather: 'sunny', temperatureCelsius: 21 };

/** Parses argv; every option may also come from an OPENLIVE_JS_<NAME> environment variable. */
export function options(spec) {
  const { values } = parseArgs({ options: spec, strict: true, allowPositionals: false });
  for (const [name, def] of Object.entries(spec)) {
    const env = process.env['OPENLIVE_JS_' + name.toUpperCase().replaceAll('-', '_')];
    if (values[name] === undefined && env !== undefined) {
      values[name] = def.type === 'boolean' ? env === '1' || env === 'true' : env;
    }
  }
  return values;
}

/** Accumulates what one conversation produced; `finish` prints it once and ends the process. */
export class Transcript {
  constructor(fields) {
    this.summary = {
      ...fields,
      setupComplete: false,
      messageKinds: [],
      texts: [],
      thoughtTexts: [],
      audioBytes: 0,
      audioChunks: 0,
      audioMimes: [],
      inputTranscription: '',
      outputTranscription: '',
      generationComplete: false,
      turnComplete: false,
      turnCompletes: 0,
      // Server content in arrival order, consecutive repeats folded: audio, text, interrupted, ...
      contentEvents: [],
      interrupted: false,
      usage: null,
      toolCalls: [],
      resumptionHandles: [],
      closeCode: null,
      closeReason: null,
      error: null,
    };
    this.finished = false;
  }

  /** Records one server message: the plain camelCase JSON object, or an SDK object copied from it. */
  record(msg) {
    const s = this.summary;
    const kinds = Object.keys(msg).filter((k) => msg[k] !== undefined && k !== 'type');
    s.messageKinds.push(kinds.join('+'));
    if ('setupComplete' in msg) s.setupComplete = true;
    if (msg.usageMetadata) s.usage = msg.usageMetadata;
    if (msg.toolCall) this.recordToolCalls(msg.toolCall.functionCalls);
    if (msg.sessionResumptionUpdate) this.recordResumption(msg.sessionResumptionUpdate);
    const content = msg.serverContent;
    if (content) this.recordContent(content);
  }

  recordContent(content) {
    const s = this.summary;
    const event = (tag) => {
      if (s.contentEvents.at(-1) !== tag) s.contentEvents.push(tag);
    };
    for (const part of content.modelTurn?.parts ?? []) {
      if (typeof part.text === 'string') {
        (part.thought ? s.thoughtTexts : s.texts).push(part.text);
        event(part.thought ? 'thought' : 'text');
      }
      if (part.inlineData) {
        event('audio');
        s.audioChunks += 1;
        s.audioBytes += Buffer.from(part.inlineData.data ?? '', 'base64').length;
        if (!s.audioMimes.includes(part.inlineData.mimeType)) s.audioMimes.push(part.inlineData.mimeType);
      }
    }
    if (content.inputTranscription?.text) {
      s.inputTranscription += content.inputTranscription.text;
      event('inputTranscription');
    }
    if (content.outputTranscription?.text) {
      s.outputTranscription += content.outputTranscription.text;
      event('outputTranscription');
    }
    if (content.generationComplete) {
      s.generationComplete = true;
      event('generationComplete');
    }
    if (content.interrupted) {
      s.interrupted = true;
      event('interrupted');
    }
    if (content.turnComplete) {
      s.turnComplete = true;
      s.turnCompletes += 1;
      event('turnComplete');
    }
  }

  recordToolCalls(functionCalls) {
    for (const fc of functionCalls ?? []) {
      this.summary.toolCalls.push({ id: fc.id ?? null, name: fc.name, args: fc.args ?? null });
    }
  }

  recordResumption(update) {
    if (update.resumable && update.newHandle) this.summary.resumptionHandles.push(update.newHandle);
  }

  closed(code, reason) {
    if (this.summary.closeCode === null) {
      this.summary.closeCode = code ?? null;
      this.summary.closeReason = reason ?? null;
    }
  }

  fail(err) {
    if (this.summary.error === null) this.summary.error = String(err?.message ?? err);
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    const s = this.summary;
    s.ok = s.error === null && s.setupComplete && s.turnComplete;
    process.stdout.write(JSON.stringify(s) + '\n');
    // Exit explicitly: an SDK may keep timers or sockets alive after the conversation.
    process.exitCode = s.ok ? 0 : 1;
    setTimeout(() => process.exit(process.exitCode), 50);
  }

  /** Fails and finishes the run if it has not finished within `ms`, so a hung server never hangs a test. */
  watchdog(ms) {
    setTimeout(() => {
      this.fail(`timed out after ${ms} ms`);
      this.finish();
    }, ms);
  }
}

/** Resolves once `check()` is true (polled every 50 ms) or after `ms`; never rejects. */
export async function until(check, ms) {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

/** Resolves after `ms`, or earlier when `promise` settles; never rejects. */
export function within(promise, ms) {
  return Promise.race([promise.catch(() => undefined), new Promise((r) => setTimeout(r, ms))]);
}

/**
 * Streams raw 16 kHz mono PCM16 from `path` the way a microphone would: 100 ms chunks at real-time pace,
 * then `silenceMs` of silence so that the server's voice activity detection sees the end of the turn.
 * `sendChunk(base64)` sends one chunk.
 */
export async function streamPcm16k(path, sendChunk, silenceMs = 1500) {
  const { readFile } = await import('node:fs/promises');
  const speech = await readFile(path);
  const pcm = Buffer.concat([speech, Buffer.alloc(Math.round((silenceMs / 1000) * 16000) * 2)]);
  const chunkBytes = 3200; // 100 ms
  for (let off = 0; off < pcm.length; off += chunkBytes) {
    sendChunk(pcm.subarray(off, off + chunkBytes).toString('base64'));
    await new Promise((r) => setTimeout(r, 100));
  }
}
