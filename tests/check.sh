#!/bin/sh
# check.sh - run the test suites on a built tree and print one total.
#
#   BUILD=build SAN=0 sh tests/check.sh [unit|integration]
#
# BUILD is the build folder (relative to the repo root or absolute), SAN=1
# says it is a sanitizer build.  Without an argument both suites run.  Each
# suite prints its summary; the last line is the total CI reads:
#   check: N passed, M failed[, K skipped]
# The exit status is non-zero if a test failed or a suite could not run.
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
SAN=${SAN:-0}
case $BUILD in
/*) ;;
*) BUILD=$PWD/$BUILD ;;
esac
# A unit binary that runs longer than this is stopped and counted as failed,
# so a hang costs minutes, not the whole CI run.
UNIT_TIMEOUT=${UNIT_TIMEOUT:-600}

passed=0
failed=0
skipped=0
broken= # suites that could not run

# Unit tests: every $BUILD/tests/unit/test_* program (cmocka).  cmocka exits
# with its number of failed cases; another status (a crash, a leak report), a
# sanitizer report in the output, or fewer results than its "1..N" plan counts
# as one more failure.
SAN_REPORT='^==[0-9]*==ERROR: \|: runtime error: '
run_unit()
{
    u_pass=0
    u_fail=0
    u_skip=0
    if [ "$SAN" = 1 ]; then
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        export ASAN_OPTIONS UBSAN_OPTIONS
    fi
    for t in "$BUILD"/tests/unit/test_*; do
        case $t in
        *.o | *.d | *.log) continue ;;
        esac
        if [ ! -f "$t" ] || [ ! -x "$t" ]; then
            continue
        fi
        name=${t##*/}
        log=$BUILD/tests/unit/$name.log
        echo "== $name"
        CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 10 "$UNIT_TIMEOUT" "$t" >"$log" 2>&1
        rc=$?
        cat "$log"
        ok=$(grep -c '^ok ' "$log")
        skip=$(grep -c '^not ok [0-9]* # SKIP' "$log")
        nok=$(($(grep -c '^not ok ' "$log") - skip))
        plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
        u_pass=$((u_pass + ok))
        u_fail=$((u_fail + nok))
        u_skip=$((u_skip + skip))
        if [ "$rc" -ne "$nok" ] || grep -q "$SAN_REPORT" "$log" ||
            { [ -n "$plan" ] && [ $((ok + nok + skip)) -lt "$plan" ]; }; then
            u_fail=$((u_fail + 1))
            if [ "$rc" -eq 124 ]; then
                why="timed out after ${UNIT_TIMEOUT}s"
            else
                why="exited with status $rc after $ok passed, $nok failed of ${plan:-?}"
            fi
            echo "unit: $name $why (crash or sanitizer report? see the output above, kept in $log)"
        fi
    done
    if [ "$u_skip" -gt 0 ]; then
        echo "unit: $u_pass passed, $u_fail failed, $u_skip skipped"
    else
        echo "unit: $u_pass passed, $u_fail failed"
    fi
    passed=$((passed + u_pass))
    failed=$((failed + u_fail))
    skipped=$((skipped + u_skip))
}

# Integration tests: pytest on Debian's python3 (DESIGN.md: python3 on PATH
# may not see Debian's packages).  The counts come from the JUnit XML.
run_integration()
{
    xml=$BUILD/pytest.xml
    mkdir -p "$BUILD"
    rm -f "$xml"
    PQGATE_BIN=$BUILD/pqgate PQGATE_SAN=$SAN /usr/bin/python3 -m pytest \
        tests/integration -q -p no:cacheprovider --junitxml="$xml"
    rc=$?
    if [ "$rc" -eq 5 ]; then # no test collected
        return
    fi
    if [ ! -f "$xml" ]; then
        echo "integration: pytest exited with status $rc and wrote no $xml"
        broken="$broken integration"
        return
    fi
    # "tests failures errors skipped", summed over the test suites.
    counts=$(/usr/bin/python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
n = [0, 0, 0, 0]
for s in suites:
    for i, k in enumerate(("tests", "failures", "errors", "skipped")):
        n[i] += int(s.get(k, 0))
print(*n)' "$xml") || {
        echo "integration: cannot read $xml"
        broken="$broken integration"
        return
    }
    # shellcheck disable=SC2086 # four numbers
    set -- $counts
    i_fail=$(($2 + $3))
    i_pass=$(($1 - i_fail - $4))
    [ "$i_pass" -lt 0 ] && i_pass=0 # a test that failed and errored in teardown
    if [ "$rc" -ne 0 ] && [ "$i_fail" -eq 0 ]; then
        echo "integration: pytest exited with status $rc but reported no failed test"
        i_fail=1
    fi
    passed=$((passed + i_pass))
    failed=$((failed + i_fail))
    skipped=$((skipped + $4))
}

case ${1:-all} in
unit) run_unit ;;
integration) run_integration ;;
all)
    run_unit
    run_integration
    ;;
*)
    echo "usage: BUILD=DIR SAN=0|1 sh tests/check.sh [unit|integration]" >&2
    exit 2
    ;;
esac

[ -n "$broken" ] && echo "check: could not run:$broken"
total="check: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && total="$total, $skipped skipped"
echo "$total"
[ "$failed" -eq 0 ] && [ -z "$broken" ]
