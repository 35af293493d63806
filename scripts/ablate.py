"""What each loss option does: the solver on one content/style pair for a list of loss configs.

python scripts/ablate.py content=photo.jpg style=great_wave output=ablation.png
"""

from fastnst.app.commands import ablate_main

if __name__ == "__main__":
    ablate_main()
