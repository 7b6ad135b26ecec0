"""Export a multi-task model to ONNX and check it in ONNX Runtime
(``mmtlsi.tools.pytorch2onnx``; docs/deployment.md)."""
from mmtlsi.tools.pytorch2onnx import main

if __name__ == '__main__':
    main()
