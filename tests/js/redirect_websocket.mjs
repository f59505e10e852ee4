// Points the Firebase AI Logic SDK at openlive. @firebase/ai hard-codes
// `wss://firebasevertexai.googleapis.com` for Live and takes no endpoint option (protocol reference §7.3),
// so the only unmodified-SDK route is to replace the global WebSocket with a subclass that rewrites that
// host. The subclass also records the URL, the raw server frames and the close frame, which the SDK
// itself only logs.
const FIREBASE_HOST = 'firebasevertexai.googleapis.com';

/**
 * Installs the redirecting WebSocket on globalThis. `target` is `ws://host:port` or `wss://host:port`.
 * Returns the record that the sockets fill in: {urls, frames, closeCode, closeReason}.
 */
export function redirectFirebaseLive(target) {
  const Native = globalThis.WebSocket;
  if (typeof Native !== 'function') {
    throw new Error('no global WebSocket: run Node 20 with --experimental-websocket (Node >= 22 has one)');
  }
  const to = new URL(target);
  const record = { urls: [], frames: [], closeCode: null, closeReason: null };

  class RedirectingWebSocket extends Native {
    constructor(url, protocols) {
      const u = new URL(String(url));
      if (u.host === FIREBASE_HOST) {
        u.protocol = to.protocol;
        u.host = to.host;
      }
      super(u.toString(), protocols);
      record.urls.push(u.toString());
      // Frames are decoded in arrival order; Blob.text() resolves in order for one socket.
      this.addEventListener('message', (event) => {
        const data = event.data;
        const decoded = typeof data === 'string' ? Promise.resolve(data) : new Blob([data]).text();
        const slot = record.frames.length;
        record.frames.push(null);
        decoded.then((text) => {
          try {
            record.frames[slot] = JSON.parse(text);
          } catch {
            record.frames[slot] = { unparsable: text.slice(0, 200) };
          }
        });
      });
      this.addEventListener('close', (event) => {
        record.closeCode = event.code;
        record.closeReason = event.reason;
      });
    }
  }
  globalThis.WebSocket = RedirectingWebSocket;
  return record;
}
