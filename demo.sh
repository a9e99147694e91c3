#!/usr/bin/env bash
# Remoto demo: a customer desktop (a private Xvfb display with some content),
# the technician's `viewer listen` with the demo key, and Remoto (built with
# the example profile) connecting to it over the encrypted channel.
#
#   ./demo.sh            # window mode if you have a display, else headless
#   ./demo.sh --headless # no windows: the viewer writes PNG snapshots
#
# Everything runs on loopback and stops when you press Enter (or Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")"
HEADLESS=0
[ "${1:-}" = "--headless" ] && HEADLESS=1
[ -z "${DISPLAY:-}" ] && HEADLESS=1
for tool in Xvfb xsetroot xterm; do
  command -v "$tool" >/dev/null || { echo "demo: $tool is missing: run 'bash .ci/install-deps.sh' first (installs Xvfb and friends)"; exit 1; }
done
echo "demo: building (first time takes a few minutes)…"
cargo build --quiet -p viewer -p remoto
BIN=${CARGO_TARGET_DIR:-target}/debug
WORK=$(mktemp -d /tmp/remoto-demo.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# The customer's desktop: a private X display with a coloured background and a terminal.
for n in $(seq 70 99); do [ -e /tmp/.X11-unix/X$n ] || { CUST=:$n; break; }; done
Xvfb "$CUST" -screen 0 1280x800x24 -noreset -nolisten tcp >"$WORK/xvfb.log" 2>&1 & PIDS+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${CUST#:}" ] && break; sleep 0.1; done
DISPLAY=$CUST xsetroot -solid '#2a6f97'
CUST=$CUST DISPLAY=$CUST xterm -geometry 90x24+80+60 -fa Monospace -fs 12 -e bash -c 'echo "This is the customer desktop ($CUST)."; echo "Type here: what you type in the viewer arrives once control is allowed."; exec bash' & PIDS+=($!)

# The technician's listening viewer, with the demo key (git does not keep
# the file's 0600 mode, and the viewer refuses a key others can read).
install -m 600 profiles/demo-technician.key "$WORK/demo-technician.key"
VIEWER_ARGS=(listen --bind 127.0.0.1 --port 5500 --key "$WORK/demo-technician.key" --accept-all --log "$WORK/logs")
if [ "$HEADLESS" = 1 ]; then VIEWER_ARGS+=(--headless --snapshot-dir "$WORK/snapshots"); fi
"$BIN/viewer" "${VIEWER_ARGS[@]}" >"$WORK/viewer.out" 2>"$WORK/viewer.err" & PIDS+=($!)
sleep 1

# The customer runs Remoto and picks the demo technician (headless: no picker window).
echo "demo: Remoto connects to the demo technician…"
mkfifo "$WORK/remoto.in"
"$BIN/remoto" connect Demo --yes --display "$CUST" <"$WORK/remoto.in" >"$WORK/remoto.out" 2>&1 & PIDS+=($!)
exec 3>"$WORK/remoto.in"
sleep 3
cat "$WORK/remoto.out"
echo
if [ "$HEADLESS" = 1 ]; then
  echo "demo: the viewer runs headless. Look at what the technician sees:"
  ls "$WORK"/snapshots/*.png 2>/dev/null || echo "  (no snapshot yet: see $WORK/viewer.err)"
else
  echo "demo: a viewer window shows the customer desktop."
fi
echo "demo: the session log is in $WORK/logs (check it with: $BIN/viewer log verify FILE)"
echo "demo: type 'allow' + Enter to allow control, or just Enter to close everything."
while read -r line; do
  [ -z "$line" ] && break
  echo "$line" >&3
done
echo close >&3
sleep 1
echo "demo: done. Remoto's last words:"; tail -n 3 "$WORK/remoto.out"
