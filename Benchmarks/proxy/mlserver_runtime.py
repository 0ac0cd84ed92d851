"""MLServer runtime serving one ONNX model through onnxruntime (used by mlserver.py next to it).

MLServer imports this file from the model folder mlserver.py writes, in each of its parallel inference workers."""
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class OnnxRuntime(MLModel):
    async def load(self) -> bool:
        opts = ort.SessionOptions()
        # One thread per session: MLServer already runs one worker process per core, like Hedgerow's
        # inference threads; more threads would oversubscribe the two cores and spin idle.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(await get_model_uri(self._settings), opts,
                                             providers=["CPUExecutionProvider"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        # Feed inputs by name as float32 (the v2 JSON "FP32" data arrives as float32 already).
        feeds = {i.name: NumpyCodec.decode_input(i).astype("float32", copy=False) for i in payload.inputs}
        names = [o.name for o in self._session.get_outputs()]
        outputs = self._session.run(names, feeds)
        return InferenceResponse(model_name=self.name, id=payload.id,
                                 outputs=[NumpyCodec.encode_output(n, v) for n, v in zip(names, outputs)])
