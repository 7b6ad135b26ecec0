"""Test a model and print the table (mmtlsi/tools/test.py)."""
from mmtlsi.tools.test import main

if __name__ == '__main__':
    main()
