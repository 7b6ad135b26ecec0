"""Inference or training speed and peak memory, as a share of the matmul
peak (``python -m mmtlsi.tools.benchmark``; options in its help)."""
from mmtlsi.tools.benchmark import main

if __name__ == '__main__':
    main()
