"""The local web page to try any model: ``fastnst demo --models FOLDER``.

An optional extra (``pip install 'fastnst[demo]'``: Starlette and uvicorn) over the inference
wing alone: it never imports training, the solver, the app or Hydra. The server stylizes
uploads and webcam frames; the same page can instead run a model's ONNX export in the browser
with onnxruntime-web, served from a local copy (``fastnst demo --fetch-ort-web``).
"""

from __future__ import annotations
