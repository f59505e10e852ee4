#!/usr/bin/env bash
# Debian packages openlive needs beyond Python: PortAudio (microphone/speaker for `openlive talk`),
# espeak-ng (the server's voice for the 76 languages that no neural voice speaks, docs/models.md; the
# tests also speak their questions with it), and for tests and the benchmark Chromium (the playground
# test), ALSA's sample recordings, redis-server (the shared resumption and token stores' tests), HAProxy
# (the load balancer in front of two replicas in the scaling tests).
# Installs only what is missing; as root or with sudo.
set -euo pipefail
want=()
[ -e /usr/lib/x86_64-linux-gnu/libportaudio.so.2 ] || ldconfig -p 2>/dev/null | grep -q libportaudio.so.2 || want+=(libportaudio2)
command -v espeak-ng >/dev/null || want+=(espeak-ng)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null || want+=(chromium)
  [ -e /usr/share/sounds/alsa/Noise.wav ] || want+=(alsa-utils)
  command -v redis-server >/dev/null || want+=(redis-server)
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || want+=(haproxy)
fi
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
  echo "openlive: please install these Debian packages: ${want[*]}" >&2; exit 1
fi
echo "openlive: installing Debian packages: ${want[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
