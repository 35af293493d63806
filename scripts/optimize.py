"""Gatys et al. optimization against the trainer's loss: one target image per content image.

python scripts/optimize.py style=starry_night content=photo.jpg iterations=500 output=out.png
python scripts/optimize.py content=photos/ output=targets/   # resumable; writes losses.json
"""

from fastnst.app.commands import optimize_main

if __name__ == "__main__":
    optimize_main()
