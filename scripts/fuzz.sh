#!/bin/sh
# `make fuzz`: builds each libFuzzer target of fuzz/ with clang (ASan + UBSan) into build-fuzz/ and
# runs it for FUZZ_SECONDS (default 60) on a scratch copy of its seed corpus, then prints the
# executions run and the crashes found per target. Exit status 1 if any target crashed.
set -u
cd "$(dirname "$0")/.." || exit 1
SECS=${FUZZ_SECONDS:-60}
CC=${FUZZ_CC:-clang}
OUT=build-fuzz
mkdir -p "$OUT"
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (Debian package clang)" >&2; exit 1; }
LIBS="$(pkg-config --libs libpng libjpeg zlib) -lm -lpthread"
SRCS="src/data/*.c src/core/*.c"
status=0
summary=""
for f in fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    target=${name#fuzz_}
    # shellcheck disable=SC2086
    if ! $CC -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
            -Iinclude -Isrc "$f" $SRCS $LIBS -o "$OUT/$name"; then
        echo "fuzz: building $name failed" >&2
        exit 1
    fi
    corpus="fuzz/corpus-run/$target"
    rm -rf "$OUT/artifacts-$target"
    mkdir -p "$corpus" "$OUT/artifacts-$target"
    cp -n fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null
    log="$OUT/$name.log"
    "$OUT/$name" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts-$target/" "$corpus" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    crashes=$(find "$OUT/artifacts-$target" -type f | wc -l)
    [ "$rc" -ne 0 ] && status=1
    summary="$summary$(printf '%-12s %10s executions  %3s crash/timeout/oom artifacts  (rc %s, log %s)' \
        "$target" "${execs:-?}" "$crashes" "$rc" "$log")
"
done
printf 'fuzz: %s s per target\n%s' "$SECS" "$summary"
exit $status
