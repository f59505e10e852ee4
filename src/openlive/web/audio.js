// Microphone capture (AudioWorklet) and reply playback (a scheduled queue of 24 kHz buffers).

const PLAYBACK_RATE = 24000;
const workletLoaded = new WeakSet();

export class Microphone extends EventTarget {
  constructor(context) {
    super();
    this.context = context;
    this.stream = null;
    this.node = null;
    this.source = null;
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    if (!workletLoaded.has(this.context)) {
      // Once per context: the processor name can only be registered once.
      await this.context.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url));
      workletLoaded.add(this.context);
    }
    this.source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, "openlive-capture");
    this.node.port.onmessage = (e) => {
      this.dispatchEvent(new CustomEvent(e.data.type, { detail: e.data }));
    };
    this.source.connect(this.node);
    // The worklet must be pulled by the graph to run; it outputs silence.
    this.node.connect(this.context.destination);
  }

  stop() {
    if (this.source) this.source.disconnect();
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
    }
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = this.node = this.source = null;
  }
}

export class Player {
  constructor(context) {
    this.context = context;
    this.gain = context.createGain();
    this.gain.connect(context.destination);
    this.nextTime = 0;
    this.sources = new Set();
    this.scheduledSeconds = 0;
  }

  // Queue one chunk of 16-bit mono PCM right after the previous one.
  play(pcmBytes, rate = PLAYBACK_RATE) {
    const samples = new Int16Array(pcmBytes.buffer, pcmBytes.byteOffset, Math.floor(pcmBytes.byteLength / 2));
    if (samples.length === 0) return;
    const buffer = this.context.createBuffer(1, samples.length, rate);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) data[i] = samples[i] / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.gain);
    // A small lead so that the first chunk does not start in the past; later chunks butt-join.
    const now = this.context.currentTime;
    if (this.nextTime < now + 0.02) this.nextTime = now + 0.05;
    source.start(this.nextTime);
    this.nextTime += buffer.duration;
    this.scheduledSeconds += buffer.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
  }

  get playing() {
    return this.sources.size > 0;
  }

  // Barge-in: silence everything queued or playing, at once.
  flush() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // already stopped
      }
    }
    this.sources.clear();
    this.nextTime = 0;
  }
}

export function rateFromMime(mime) {
  const m = /rate\s*=\s*(\d+)/.exec(mime || "");
  return m ? Number(m[1]) : PLAYBACK_RATE;
}
