#!/usr/bin/env bash
# Render the hand-drawn icon (resources/icons/flyp-studio.svg) to the standard PNG sizes.
# Needs rsvg-convert (Debian: librsvg2-bin). The PNGs are committed; rerun after editing the SVG.
set -euo pipefail
cd "$(dirname "$0")/../resources/icons"
for size in 16 32 48 64 128 256; do
  rsvg-convert --width "$size" --height "$size" flyp-studio.svg --output "flyp-studio-$size.png"
done
ls -l flyp-studio-*.png
