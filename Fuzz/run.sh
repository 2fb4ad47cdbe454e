#!/usr/bin/env bash
# Builds each fuzz target with libFuzzer and AddressSanitizer and runs it for FUZZ_RUNS executions from its seed
# corpus. A crash, leak or hang stops the run with the input saved as .build/fuzz/<target>-crash-…; turn it into a
# regression test (the input as a golden vector) before fixing. FUZZ_TARGETS picks targets (default: all three).
#   socket-io, messages: swiftc, the entry file together with the sources of the module it exercises (and of
#        JSONText, compiled into the same module: their `import JSONText` is conditional for this).
#   jwt: the JWT path needs jwt-kit and swift-crypto instrumented too, so SwiftPM builds the package Fuzz/JWT (Shared/Auth
#        plus the entry) with the fuzzer and address sanitizer on every module; libFuzzer supplies main.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${FUZZ_RUNS:-1000000}"
targets="${FUZZ_TARGETS:-socket-io messages jwt}"
mkdir -p .build/fuzz
build() {  # target entry-file module-sources…
    local target=$1 entry=$2; shift 2
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "${target//-/_}" "$@" "$entry" \
        -o ".build/fuzz/$target-fuzz" 2>&1 | grep -v "ld.gold: warning: Cannot export local symbol" || true
}
for target in $targets; do
    echo "building $target"
    case $target in
        socket-io) build socket-io Fuzz/SocketIOFuzz.swift Shared/JSONText/*.swift Shared/SocketIO/*.swift ;;
        messages) build messages Fuzz/MessagesFuzz.swift Shared/JSONText/*.swift Shared/Messages/*.swift ;;
        jwt)
            cp Package.resolved Fuzz/JWT/Package.resolved  # the versions the main package pins
            swift build --package-path Fuzz/JWT --scratch-path .build/fuzz/jwt-build -c release \
                --sanitize=fuzzer --sanitize=address 2>&1 | grep -E "error:|Build complete" || true
            cp .build/fuzz/jwt-build/release/jwt-fuzz .build/fuzz/jwt-fuzz ;;
        *) echo "unknown fuzz target $target"; exit 2 ;;
    esac
    test -x ".build/fuzz/$target-fuzz"
done
# jwt-kit keeps JWKS keys in an enum whose tag sits in the pointer's spare bits, which LeakSanitizer misreads as a
# leak of the verifier's keys at setup (Fuzz/JWT/lsan-suppressions.txt says more).
export LSAN_OPTIONS="suppressions=$PWD/Fuzz/JWT/lsan-suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
for target in $targets; do
    corpus=".build/fuzz/corpus-$target"
    mkdir -p "$corpus"
    cp -n Fuzz/corpus/"$target"/* "$corpus"/
    echo "fuzzing $target: $runs runs"
    ".build/fuzz/$target-fuzz" "$corpus" -runs="$runs" -max_len=4096 -timeout=5 -rss_limit_mb=2048 \
        -artifact_prefix=".build/fuzz/$target-" -print_final_stats=1 2>&1 \
        | grep -E "^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|artifact_prefix)" \
        || true
    if ls ".build/fuzz/$target-"crash-* ".build/fuzz/$target-"leak-* ".build/fuzz/$target-"timeout-* >/dev/null 2>&1; then
        echo "FINDING in $target: see .build/fuzz/$target-*"; exit 1
    fi
done
echo "fuzz: no crash, leak or hang"
