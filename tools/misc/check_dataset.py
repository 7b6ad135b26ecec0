"""Check a multi-task dataset's files (mmtlsi/tools/check_dataset.py)."""
import sys

from mmtlsi.tools.check_dataset import main

if __name__ == '__main__':
    sys.exit(main())
