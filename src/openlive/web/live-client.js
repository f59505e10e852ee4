// The Live API wire protocol over a browser WebSocket: what @google/genai sends, without the SDK.
//
// One JSON object per frame in both directions; the server may send binary frames (Google does), so
// both kinds are decoded. Errors arrive as close frames (code + reason), never as JSON.

const API_VERSION = "v1beta";

export function liveUrl(apiKey) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const path = `/ws/google.ai.generativelanguage.${API_VERSION}.GenerativeService.BidiGenerateContent`;
  const query = apiKey ? `?key=${encodeURIComponent(apiKey)}` : "";
  return `${scheme}//${location.host}${path}${query}`;
}

export function bytesToBase64(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  // In slices: String.fromCharCode(...hugeArray) overflows the argument limit.
  for (let i = 0; i < u8.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function base64ToBytes(b64) {
  // The server sends standard base64; accept the URL-safe alphabet too.
  const binary = atob(b64.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export class LiveConnection extends EventTarget {
  constructor() {
    super();
    this.ws = null;
    this.ready = false;
  }

  // Opens the socket, sends setup, resolves on setupComplete; rejects with {code, reason} on close.
  connect(apiKey, setup) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(liveUrl(apiKey));
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      const decoder = new TextDecoder();
      ws.onopen = () => ws.send(JSON.stringify({ setup }));
      ws.onmessage = (event) => {
        let msg;
        try {
          msg = JSON.parse(typeof event.data === "string" ? event.data : decoder.decode(event.data));
        } catch (err) {
          console.warn("openlive: undecodable server message", err);
          return;
        }
        if (!this.ready) {
          if (!("setupComplete" in msg)) {
            ws.close(1002, "Handshake failure");
            reject({ code: 1002, reason: "the first server message was not setupComplete" });
            return;
          }
          this.ready = true;
          resolve(msg.setupComplete);
          return;
        }
        this.dispatchEvent(new CustomEvent("message", { detail: msg }));
      };
      ws.onclose = (event) => {
        const wasReady = this.ready;
        this.ready = false;
        const detail = { code: event.code, reason: event.reason };
        if (!wasReady) reject(detail);
        this.dispatchEvent(new CustomEvent("close", { detail }));
      };
    });
  }

  send(message) {
    if (this.ws && this.ready && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
    }
  }

  sendAudio(pcm16) {
    this.send({ realtimeInput: { audio: { mimeType: "audio/pcm;rate=16000", data: bytesToBase64(pcm16) } } });
  }

  sendVideo(jpegBytes) {
    this.send({ realtimeInput: { video: { mimeType: "image/jpeg", data: bytesToBase64(jpegBytes) } } });
  }

  sendText(text) {
    this.send({ clientContent: { turns: [{ role: "user", parts: [{ text }] }], turnComplete: true } });
  }

  close() {
    if (this.ws) this.ws.close(1000, "Client closed session.");
  }
}
