// Runs the playground's capture worklet outside a browser: stands in for the AudioWorklet globals, feeds
// it raw float32 mono audio from a file in 128-frame blocks, and prints what it posted as JSON.
// usage: node run_worklet.mjs WORKLET.js INPUT.f32 SAMPLE_RATE
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [workletPath, inputPath, rate] = process.argv.slice(2);
const posted = [];
let Processor = null;
globalThis.sampleRate = Number(rate);
globalThis.AudioWorkletProcessor = class {
  constructor() {
    this.port = { postMessage: (msg) => posted.push(msg), onmessage: null };
  }
};
globalThis.registerProcessor = (name, cls) => {
  Processor = cls;
};
await import(pathToFileURL(workletPath).href);

const raw = readFileSync(inputPath);
const input = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const processor = new Processor();
let frame = 0;
const events = [];
for (let i = 0; i < input.length; i += 128) {
  const block = input.subarray(i, Math.min(i + 128, input.length));
  const before = posted.length;
  processor.process([[block]]);
  frame += block.length;
  for (const msg of posted.slice(before)) {
    if (msg.type !== "audio") events.push({ ...msg, atS: frame / Number(rate) });
  }
}
const pcm = posted.filter((m) => m.type === "audio").map((m) => Buffer.from(new Uint8Array(m.pcm)));
const chunkSamples = [...new Set(pcm.map((b) => b.length / 2))];
process.stdout.write(JSON.stringify({ pcm: Buffer.concat(pcm).toString("base64"), chunkSamples, events }));
