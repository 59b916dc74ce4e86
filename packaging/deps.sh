#!/bin/sh
# deps.sh - install the Debian 12 packages pqgate needs to build and test.
#
# Idempotent: prints nothing and exits 0 when every package is installed.
# Otherwise names what it installs, runs apt-get update once and installs
# the missing packages.  Runs as root (CI) or through sudo; without either it
# prints the command to run and exits 1.  README.md says why each library is
# there.
set -u

# The one package list, by what needs it.  Later issues add to it.
# `deps.sh fuzz` adds what `make fuzz` needs.
PACKAGES=
# build: the compiler, make, and pkg-config (the Makefile finds libraries with it)
PACKAGES="$PACKAGES gcc make pkg-config"
# libraries: libyaml (config files), libsystemd (sd_notify, watchdog),
# FFTW3 (harmonic analysis), libiio (ADC sample source)
PACKAGES="$PACKAGES libyaml-dev libsystemd-dev libfftw3-dev libiio-dev"
# libraries: libmodbus (Modbus master, server and serial gateway), SQLite
# (onboard store), jansson (JSON payloads), libmosquitto (MQTT forwarding),
# libcurl (SMTP alarm email), libgpiod (pulse inputs)
PACKAGES="$PACKAGES libmodbus-dev libsqlite3-dev libjansson-dev libmosquitto-dev"
PACKAGES="$PACKAGES libcurl4-openssl-dev libgpiod-dev"
# tests: real Modbus peers (pymodbus simulators on a socat pty pair, mbpoll as
# a client of our server), a real MQTT broker and client, openssl for test CAs
PACKAGES="$PACKAGES socat mbpoll python3-pymodbus python3-serial python3-serial-asyncio"
PACKAGES="$PACKAGES mosquitto python3-paho-mqtt openssl sqlite3"
# tests: cmocka (tests/unit/), pytest on Debian's python3 (tests/integration/)
PACKAGES="$PACKAGES libcmocka-dev python3 python3-pytest"
# tests: PyYAML, so the Modbus tests can point config/examples/fleet.yaml at
# the simulator (tests/integration/modbus_fleet.py)
PACKAGES="$PACKAGES python3-yaml"
# tests: headless Chromium renders the HTML reports (tests/integration/test_report.py)
PACKAGES="$PACKAGES chromium"
# fuzzing: clang with libFuzzer and the sanitizer runtimes
if [ "${1:-}" = fuzz ]; then
    PACKAGES="$PACKAGES clang libclang-rt-14-dev"
fi

# Status of every package in one call; a package dpkg has never heard of is
# absent from the output (dpkg-query then exits 1 and complains on stderr).
# shellcheck disable=SC2086 # word splitting of the list is intended
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $PACKAGES 2>/dev/null |
    awk '$NF == "installed" && $(NF-1) == "ok" { sub(/:.*/, "", $1); printf " %s", $1 }')

missing=
for p in $PACKAGES; do
    case "$installed " in
    *" $p "*) ;;
    *) missing="$missing $p" ;;
    esac
done
missing=${missing# }
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: missing Debian packages: $missing" >&2
    echo "deps: not root and no sudo; run as root:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing" >&2
    exit 1
fi

echo "deps: installing $missing"
# sudo resets the environment: pass DEBIAN_FRONTEND on its command line.
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null; then
    echo "deps: apt-get update failed" >&2
    exit 1
fi
# shellcheck disable=SC2086 # word splitting of the list is intended
if ! $SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends $missing; then
    echo "deps: apt-get install failed for: $missing" >&2
    exit 1
fi
