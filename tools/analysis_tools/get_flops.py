"""Parameters and FLOPs of a config's model, backbone and head separately
(``python -m mmtlsi.tools.get_flops``; options in its help)."""
from mmtlsi.tools.get_flops import main

if __name__ == '__main__':
    main()
