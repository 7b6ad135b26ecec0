"""Print the merged config (mmtlsi/tools/print_config.py)."""
from mmtlsi.tools.print_config import main

if __name__ == '__main__':
    main()
