#!/usr/bin/env bash
# Install what the project needs on Debian 12 (root or sudo), idempotently.
#   scripts/setup.sh          the service: system packages + .venv with the project
#   scripts/setup.sh --test   also what the tests need (PostgreSQL server, pytest, ruff)
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=0
[ "${1:-}" = "--test" ] && with_test=1
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

python="${PYTHON:-}"
if [ -z "$python" ]; then
  python="$(command -v python3.11 || command -v python3 || true)"
fi

# ffmpeg encodes and decodes audio (pydub) and video (TikTok), espeak-ng is the offline Vietnamese
# voice, Noto Sans (with Tai Viet, for Thái) draws the title cards of videos and photos.
packages=(ca-certificates tzdata ffmpeg espeak-ng fonts-noto-core)
[ -z "$python" ] && packages+=(python3 python3-venv) && python=python3
if ! "$python" -c "import ensurepip, venv" >/dev/null 2>&1; then
  packages+=(python3-venv)
fi
# The tests also run a real PostgreSQL, a real Icecast (loudspeaker live push) and a real WordPress
# site (Debian's package on MariaDB and Apache with mod_php), each started by the tests on loopback.
# LibreOffice and poppler render the DOCX report to PDF and PNG; Liberation Serif is metric-compatible
# with Times New Roman, the font of Vietnamese administrative documents. The web app's browser tests
# drive Debian's Chromium headless through its chromedriver (Selenium).
# systemd-analyze checks the service's unit (scripts/install.sh). libfaketime runs the README's tours
# on a clock set to a date in another year.
[ "$with_test" = 1 ] && packages+=(postgresql icecast2 libreoffice-writer-nogui poppler-utils fonts-liberation2
                                   wordpress wordpress-theme-twentytwentythree mariadb-server apache2
                                   libapache2-mod-php php-mysql chromium chromium-driver systemd faketime)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  # The servers in these packages are started by the tests on their own ports, never as system
  # services: while installing, tell the packages not to start them (Debian's policy-rc.d hook).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
[ -x .venv/bin/python ] || "$python" -m venv .venv
extra=""
[ "$with_test" = 1 ] && extra="[test]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}"
echo "setup: ready ($(.venv/bin/python --version), $(.venv/bin/cchc --version))"
