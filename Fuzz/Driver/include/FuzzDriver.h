// libFuzzer's driver entry (compiler-rt, LLVM 12 and later). Declared here so a Swift fuzz target can start the
// fuzzer from its own main; see Fuzz/README.md for why the targets need that under SwiftPM.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
