#!/usr/bin/env bash
# make fuzz: build the libFuzzer targets with AddressSanitizer into .build-fuzz, replay the committed
# regressions, then fuzz each target for a fixed, seeded budget over its seed corpus. Exits non-zero on any
# crash, leak or timeout, after one summary line per target. Crash inputs are copied to Fuzz/Regressions/<target>/.
#
#   FUZZ_SECONDS=40   time per target (libFuzzer -max_total_time)
#   FUZZ_RUNS=2000000 executions per target at most (-runs); whichever comes first
#   FUZZ_TARGETS="FuzzKServe FuzzTFServing"   a subset
set -uo pipefail
cd "$(dirname "$0")/.."

SCRATCH=.build-fuzz
SECONDS_PER_TARGET=${FUZZ_SECONDS:-40}
RUNS=${FUZZ_RUNS:-2000000}
TARGETS=${FUZZ_TARGETS:-"FuzzKServe FuzzGRPCInfer FuzzTFServing FuzzONNXLoader FuzzDesiredState FuzzRoutingTable FuzzWorkerMessages FuzzLookup"}
# Bodies, files and tables bigger than this exercise nothing new and slow every run down.
MAX_LEN=${FUZZ_MAX_LEN:-8192}

# libFuzzer ships with the Swift toolchain (clang's compiler-rt); without it there is nothing to build.
resource_dir=$(dirname "$(dirname "$(command -v swift)")")/lib
if ! find "$resource_dir" -name 'libclang_rt.fuzzer-*.a' 2>/dev/null | grep -q .; then
  echo "fuzz: this Swift toolchain has no libFuzzer (libclang_rt.fuzzer); use a swift.org Linux toolchain" >&2
  exit 2
fi

started=$(date +%s)
FLAGS=(--scratch-path "$SCRATCH" -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING)
for target in $TARGETS; do
  if ! swift build "${FLAGS[@]}" --product "$target" 2>&1 | grep -E "error:|Compiling Fuzz|Build complete" ; then :; fi
  if [ ! -x "$SCRATCH/debug/$target" ]; then echo "fuzz: building $target failed" >&2; exit 1; fi
done
bin="$SCRATCH/debug"
echo "fuzz: sanitizer build took $(( $(date +%s) - started )) s"

# ASan: leaks fail the run; libFuzzer: a crash, a leak or a 10 s input each end it with a non-zero status.
# malloc_context_size: deep enough that a leak report's stack reaches FuzzModels, which the suppressions name.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:malloc_context_size=100}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/Fuzz/lsan-suppressions.txt}
# Swift's own crash handler reads the crashed stack, which ASan reports as a second, misleading error.
export SWIFT_BACKTRACE=enable=no
export HEDGEROW_MODELS=${HEDGEROW_MODELS:-$PWD/Models}
failed=0
summary=()
for target in $TARGETS; do
  seeds="Fuzz/Corpus/$target"
  work="$SCRATCH/corpus/$target"
  artifacts="$SCRATCH/artifacts/$target"
  mkdir -p "$work" "$artifacts" "$seeds"
  log="$SCRATCH/$target.log"
  max_len=$MAX_LEN
  dict=(-dict=Fuzz/Dictionaries/json.dict)
  case $target in
    FuzzONNXLoader) max_len=${FUZZ_MAX_LEN:-32768}; dict=() ;;   # the example models are 16-20 KiB
    FuzzDesiredState) dict=(-dict=Fuzz/Dictionaries/yaml.dict) ;;
    FuzzLookup) dict=() ;;   # binary
  esac

  # 1. Every committed regression must now pass (KNOWN lists reproducers of bugs still open elsewhere).
  regression_result=ok
  if [ -d "Fuzz/Regressions/$target" ]; then
    known="Fuzz/Regressions/$target/KNOWN"
    while IFS= read -r -d '' file; do
      name=$(basename "$file")
      [ "$name" = KNOWN ] && continue
      if [ -f "$known" ] && grep -q "^$name" "$known"; then echo "fuzz: $target: skipping known open $name"; continue; fi
      if ! "$bin/$target" -runs=1 "$file" >"$log.regression" 2>&1; then
        regression_result="regression $file crashes"; failed=1
        tail -30 "$log.regression"
      fi
    done < <(find "Fuzz/Regressions/$target" -type f -print0 | sort -z)
  fi

  # 2. Fuzz: fixed seed, bounded time and runs, new inputs go to the scratch corpus, never to Fuzz/Corpus.
  t0=$(date +%s)
  "$bin/$target" -seed=1 -max_total_time="$SECONDS_PER_TARGET" -runs="$RUNS" -max_len="$max_len" -timeout=10 "${dict[@]}" \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$work" "$seeds" >"$log" 2>&1
  status=$?
  elapsed=$(( $(date +%s) - t0 ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -oE '(DONE|INITED|NEW|REDUCE|pulse) +cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
  result=ok
  if [ $status -ne 0 ]; then
    failed=1
    crash=$(grep -oE "(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+" "$log" | tail -1)
    kind=$(grep -oE "ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [a-z -]+|Fatal error: .*" "$log" | head -1 | cut -c1-120)
    result="FAILED (exit $status${kind:+, $kind}${crash:+, reproducer Fuzz/Regressions/$target/$crash})"
    if [ -n "$crash" ] && [ -f "$artifacts/$crash" ]; then
      mkdir -p "Fuzz/Regressions/$target" && cp "$artifacts/$crash" "Fuzz/Regressions/$target/$crash"
    fi
    grep -E "Fatal error|ERROR:|SUMMARY:|#[0-9]+ 0x" "$log" | head -25
  fi
  [ "$regression_result" != ok ] && result="$result; $regression_result"
  summary+=("fuzz $target: ${execs:-?} execs in ${elapsed}s, cov ${cov:-?}, ft ${ft:-?}, result: $result")
done

printf '%s\n' "${summary[@]}"
echo "fuzz: total $(( $(date +%s) - started )) s"
exit $failed
