#!/usr/bin/env bash
# Installs everything the test suite needs on a bare Debian machine:
# an X server, the stock VNC peers of ../shared/interop.md, and helper tools.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  xvfb x11vnc tigervnc-viewer tigervnc-scraping-server \
  tigervnc-standalone-server tigervnc-tools xtightvncviewer \
  imagemagick socat xdotool x11-apps x11-xserver-utils xterm xfonts-base \
  strace iproute2 \
  libxkbcommon-x11-0 libx11-xcb1 libxcursor1 libxi6 libxrandr2 \
  mesa-vulkan-drivers libvulkan1 libegl1 procps psmisc \
  gcc-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev \
  wine wine64 osslsigncode openssl tinyproxy trayer x11-utils
# Remoto.exe is cross-built and tested under wine (tests/tests/windows_wine.rs).
rustup target add x86_64-pc-windows-gnu
python3 -m pip install --quiet --disable-pip-version-check vncdotool
