#ifndef HEDGEROW_COPENBLAS_SHIM_H
#define HEDGEROW_COPENBLAS_SHIM_H
// Debian's libopenblas-dev installs cblas.h through the alternatives system (openblas-pthread variant).
#include <cblas.h>
#endif
