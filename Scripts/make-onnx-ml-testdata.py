"""Writes the ONNX project's ai.onnx.ml node tests (model.onnx and test_data_set_*/input_*.pb, output_*.pb) from the
`onnx` package's own test-case definitions, the same way its `backend-test-tools` writes the default-domain ones.
Debian's libonnx-testdata (ONNX 1.12) ships none of them.

    pip install onnx==1.23.2 numpy
    python Scripts/make-onnx-ml-testdata.py OUTPUT_DIR      # writes OUTPUT_DIR/node/test_ai_onnx_ml_*/

Then `hedgerow conformance --testdata OUTPUT_DIR` runs them (Scripts/conformance-ml.sh does both).
"""
import os
import sys
import warnings

from onnx import numpy_helper
from onnx.backend.test.case import node


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the default-domain case generators warn about casts they mean to overflow
        cases = [c for c in node.collect_testcases() if c.name.startswith("test_ai_onnx_ml_")]
    if not cases:
        sys.exit("the onnx package defines no ai.onnx.ml node tests")
    for case in cases:
        directory = os.path.join(out, "node", case.name)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets):
            data_set = os.path.join(directory, f"test_data_set_{i}")
            os.makedirs(data_set, exist_ok=True)
            for kind, values, declared in (("input", inputs, case.model.graph.input), ("output", outputs, case.model.graph.output)):
                for j, value in enumerate(values):
                    with open(os.path.join(data_set, f"{kind}_{j}.pb"), "wb") as f:
                        f.write(numpy_helper.from_array(value, declared[j].name).SerializeToString())
    print(f"{len(cases)} ai.onnx.ml node tests written to {out}/node")


if __name__ == "__main__":
    main()
