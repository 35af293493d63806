"""A trained network vs the optimization solver: losses, quality, loss parity N, speedup.

python scripts/compare.py ckpt=outputs/.../last.ckpt content_dir=photos/ iterations=[50,100,300,500]
"""

from fastnst.app.commands import compare_main

if __name__ == "__main__":
    compare_main()
