#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for audiokit: system packages the recipes and tests
# need, then the virtual environment .venv with audiokit installed editable (+ dev extras).
# Safe to run again: apt and pip skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  sox libsox-fmt-all                      # audio processing in the corpus build
  espeak-ng flite festival                # TTS engines (Debian main) for egs/mini_synth
  festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  wordnet-base                            # sentences for egs/mini_synth
  fluidsynth timgm6mb-soundfont           # music for codec training
  codec2                                  # classical same-bitrate baseline in codec1 scoring
  pulseaudio pulseaudio-utils libasound2-plugins libportaudio2   # virtual microphone
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# pip (not uv/poetry): the pins in pyproject.toml pick torch 2.14.1 + torchaudio 2.11 (docs/design.md).
.venv/bin/pip install -q -e '.[dev]'
echo "audiokit: setup done (.venv ready)"
