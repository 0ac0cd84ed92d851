// Nothing to compile: the target exists for FuzzDriver.h. libFuzzer itself is linked by -sanitize=fuzzer.
#include "FuzzDriver.h"
