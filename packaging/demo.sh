#!/bin/sh
# demo.sh - what `make demo` runs: a simulated downstream fleet and the
# gateway polling it.
#
#   sh packaging/demo.sh [PQGATE]          (PQGATE: default build/pqgate)
#
# The fleet is tests/integration/mbsim.py --demo: Modbus RTU units 1-3 on
# one end of a socat pty pair in $DEMO_DIR (default /tmp/pqgate-demo), whose
# other end is config/examples/demo.yaml's bus1, and Modbus TCP peers on
# 127.0.0.1:5020 and :5021.  It runs in the background, its PID recorded,
# and is stopped when the gateway ends, Ctrl-C included.  If it cannot
# start (a port taken by another demo), the gateway runs anyway and logs
# its devices as not answering.
set -u

cd "$(dirname "$0")/.." || exit 1
PQGATE=${1:-build/pqgate}
DEMO_DIR=${DEMO_DIR:-/tmp/pqgate-demo}
PYTHON=/usr/bin/python3 # Debian's, with python3-pymodbus (DESIGN.md)

mkdir -p "$DEMO_DIR" || exit 1
"$PYTHON" tests/integration/mbsim.py --demo "$DEMO_DIR" &
SIM_PID=$!
echo "demo: simulated fleet started (pid $SIM_PID)"

stop_sim()
{
    if kill -0 "$SIM_PID" 2>/dev/null; then
        kill -TERM "$SIM_PID" 2>/dev/null
        wait "$SIM_PID" 2>/dev/null
        echo "demo: simulated fleet stopped"
    fi
}
# a non-interactive shell's background job ignores SIGINT: Ctrl-C reaches
# the gateway and this script, and the trap stops the simulator
trap stop_sim EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait until it serves (it writes its pid file then), at most 10 s
i=0
while [ ! -f "$DEMO_DIR/mbsim.pid" ]; do
    if ! kill -0 "$SIM_PID" 2>/dev/null || [ $i -ge 100 ]; then
        echo "demo: the simulated fleet did not start; running the gateway without it" >&2
        break
    fi
    sleep 0.1
    i=$((i + 1))
done

"$PQGATE" run --config config/examples/demo.yaml \
    --set "buses[0].device=$DEMO_DIR/ttyS-gw"
