"""Draw a dataset's samples (mmtlsi/tools/browse_dataset.py)."""
from mmtlsi.tools.browse_dataset import main

if __name__ == '__main__':
    main()
