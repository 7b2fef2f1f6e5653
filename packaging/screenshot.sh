#!/usr/bin/env bash
# Start a FLYP Studio executable under Xvfb, wait, screenshot its window, report the window's
# title, class and icon, then close it: `packaging/screenshot.sh [EXE] [OUT.png] [SECONDS] [ARGS...]`
# (default: the frozen dist/flyp-studio/flyp-studio, packaging/screenshot.png, 30 s).
# Needs xvfb, xauth, x11-utils, imagemagick and Qt's xcb libraries (see packaging/README.md).
set -euo pipefail
exe=$(realpath "${1:-dist/flyp-studio/flyp-studio}")
out=$(realpath -m "${2:-packaging/screenshot.png}")
wait_s=${3:-30}
shift $(( $# < 3 ? $# : 3 ))
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
args=$(printf '%q ' "$@")

# A first start: no recent projects, no settings; run from an empty folder, so only the bundle's
# own files can be found.
cat >"$scratch/session.sh" <<EOF
cd "$scratch"
XDG_CONFIG_HOME="$scratch/config" XDG_DATA_HOME="$scratch/data" "$exe" $args >"$scratch/app.log" 2>&1 &
app=\$!
started=\$(date +%s)
sleep $wait_s
window=
for w in \$(xwininfo -root -tree | grep 'FLYP Studio"' | awk '{print \$1}'); do  # the one with a class
  xprop -id "\$w" WM_CLASS | grep -q = && { window=\$w; break; }
done
echo "window after $wait_s s: \${window:-none}; process running: \$(kill -0 \$app 2>/dev/null && echo yes || echo no)"
if [ -n "\$window" ]; then
  xprop -id "\$window" WM_NAME WM_CLASS _KDE_NET_WM_DESKTOP_FILE | sed 's/^/  /'
  echo "  window icon sizes: \$(xprop -id "\$window" _NET_WM_ICON | grep -o '([0-9]* x [0-9]*)' | tr '\n' ' ')"
fi
import -window "\${window:-root}" "$out"  # the window alone (Xvfb has no window manager)
kill \$app 2>/dev/null || true
wait \$app 2>/dev/null || true
echo "--- app output"; cat "$scratch/app.log"
EOF
xvfb-run -a -s "-screen 0 1400x900x24" bash "$scratch/session.sh"
echo "screenshot: $out ($(du -k "$out" | cut -f1) KiB)"
