"""Convert a backbone checkpoint (mmtlsi/tools/backbone2mm.py)."""
from mmtlsi.tools.backbone2mm import main

if __name__ == '__main__':
    main()
