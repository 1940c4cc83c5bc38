#!/bin/sh
# Renders the app icons' PNG sizes from their SVGs with headless Chromium.
# Run once after changing an SVG in frontend/public/icons; the PNGs are committed.
set -eu
dir=$(cd "$(dirname "$0")/../public/icons" && pwd)
chrome=${CHROMIUM_PATH:-chromium}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in icon maskable; do
  for size in 192 512; do
    printf '<!doctype html><body style="margin:0;background:transparent"><img src="file://%s/%s.svg" width="%s" height="%s" style="display:block">' \
      "$dir" "$name" "$size" "$size" >"$tmp/$name.html"
    "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --default-background-color=00000000 \
      --window-size="$size,$size" --screenshot="$dir/$name-$size.png" "file://$tmp/$name.html" 2>/dev/null
  done
done
