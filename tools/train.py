"""Train a model (mmtlsi/tools/train.py)."""
from mmtlsi.tools.train import main

if __name__ == '__main__':
    main()
