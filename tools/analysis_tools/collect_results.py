"""Gather result files into one table (mmtlsi/tools/collect_results.py)."""
from mmtlsi.tools.collect_results import main

if __name__ == '__main__':
    main()
