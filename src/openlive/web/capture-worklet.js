// AudioWorklet: microphone -> 16 kHz mono Int16 chunks for realtimeInput.audio, plus a small energy VAD.
//
// Runs on the audio rendering thread. The browser hands us 128-frame blocks at the context's rate
// (usually 48 kHz); we low-pass (so that 16 kHz sampling does not fold high frequencies back into the
// speech band), resample by linear interpolation, and post ~40 ms chunks to the page. The VAD is only
// for the page's own latency measurement (when did the user stop talking?): turn-taking is the
// server's job.

const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 640; // 40 ms at 16 kHz
const FRAME_SAMPLES = 160; // VAD frame: 10 ms at 16 kHz
const HANGOVER_FRAMES = 30; // 300 ms of quiet ends an utterance
const MIN_SPEECH_FRAMES = 15; // 150 ms of voice before it counts as speech (clicks do not)
const CALIBRATION_FRAMES = 30; // 300 ms to measure the background level

class LowPass {
  // RBJ biquad low-pass, Q = 0.707.
  constructor(rate, cutoff) {
    const w = (2 * Math.PI * cutoff) / rate;
    const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
    const cos = Math.cos(w);
    const a0 = 1 + alpha;
    this.b0 = (1 - cos) / 2 / a0;
    this.b1 = (1 - cos) / a0;
    this.b2 = this.b0;
    this.a1 = (-2 * cos) / a0;
    this.a2 = (1 - alpha) / a0;
    this.x1 = this.x2 = this.y1 = this.y2 = 0;
  }
  step(x) {
    const y = this.b0 * x + this.b1 * this.x1 + this.b2 * this.x2 - this.a1 * this.y1 - this.a2 * this.y2;
    this.x2 = this.x1;
    this.x1 = x;
    this.y2 = this.y1;
    this.y1 = y;
    return y;
  }
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / TARGET_RATE; // input samples per output sample
    this.filter = this.ratio > 1 ? new LowPass(sampleRate, 0.45 * TARGET_RATE) : null;
    this.pos = 0; // fractional read position, relative to `prev`
    this.prev = 0; // last filtered input sample of the previous block
    this.out = new Int16Array(CHUNK_SAMPLES);
    this.outLen = 0;
    // VAD state (in 16 kHz output samples).
    this.frameEnergy = 0;
    this.frameLen = 0;
    this.noiseFloor = 1e-4;
    this.calibrationFrames = 0;
    this.voicedRun = 0;
    this.quietRun = 0;
    this.speaking = false;
    this.samplesOut = 0;
    this.lastVoicedSample = 0;
    this.muted = false;
    this.port.onmessage = (e) => {
      if (e.data && typeof e.data.muted === "boolean") this.muted = e.data.muted;
    };
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true;
    const channel = input[0];
    const n = channel.length;
    const filtered = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      // Mix down if the device gave us several channels.
      let x = channel[i];
      for (let c = 1; c < input.length; c++) x += input[c][i];
      x /= input.length;
      filtered[i] = this.filter ? this.filter.step(x) : x;
    }
    // Linear interpolation between prev (index -1) and filtered[0..n-1].
    while (this.pos < n) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i - 1 < 0 ? this.prev : filtered[i - 1];
      const b = filtered[i];
      this.emit(a + (b - a) * frac);
      this.pos += this.ratio;
    }
    this.pos -= n;
    this.prev = filtered[n - 1];
    return true;
  }

  emit(x) {
    const s = this.muted ? 0 : Math.max(-1, Math.min(1, x));
    this.out[this.outLen++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    this.samplesOut++;
    this.vad(s);
    if (this.outLen === CHUNK_SAMPLES) {
      const chunk = this.out.buffer;
      this.out = new Int16Array(CHUNK_SAMPLES);
      this.outLen = 0;
      this.port.postMessage({ type: "audio", pcm: chunk, level: this.lastLevel || 0 }, [chunk]);
    }
  }

  vad(s) {
    this.frameEnergy += s * s;
    if (++this.frameLen < FRAME_SAMPLES) return;
    const rms = Math.sqrt(this.frameEnergy / FRAME_SAMPLES);
    this.frameEnergy = 0;
    this.frameLen = 0;
    this.lastLevel = rms;
    if (this.calibrationFrames < CALIBRATION_FRAMES) {
      // The first moments set the noise floor: a room with a fan is not someone speaking.
      this.noiseFloor = this.calibrationFrames++ === 0 ? rms : 0.8 * this.noiseFloor + 0.2 * rms;
      return;
    }
    // Voice: clearly above the noise floor and above an absolute minimum (-45 dBFS).
    const voiced = rms > Math.max(this.noiseFloor * 3.5, 0.0056);
    // The floor follows quiet frames quickly and creeps up under loud ones, so that a noise that
    // starts later and never stops is eventually taken for the floor, not for endless speech.
    this.noiseFloor = voiced ? this.noiseFloor * 1.002 : 0.95 * this.noiseFloor + 0.05 * rms;
    if (voiced) {
      this.voicedRun++;
      this.quietRun = 0;
      this.lastVoicedSample = this.samplesOut;
      if (!this.speaking && this.voicedRun >= MIN_SPEECH_FRAMES) {
        this.speaking = true;
        this.port.postMessage({ type: "speech-start" });
      }
    } else {
      this.quietRun++;
      if (this.quietRun > 3) this.voicedRun = 0;
      if (this.speaking && this.quietRun >= HANGOVER_FRAMES) {
        this.speaking = false;
        // How long ago the last voiced frame ended: the page turns this into a wall-clock time.
        const agoS = (this.samplesOut - this.lastVoicedSample) / TARGET_RATE;
        this.port.postMessage({ type: "speech-end", agoS });
      }
    }
  }
}

registerProcessor("openlive-capture", CaptureProcessor);
