"""Plot training curves, time training (mmtlsi/tools/analyze_logs.py)."""
from mmtlsi.tools.analyze_logs import main

if __name__ == '__main__':
    main()
