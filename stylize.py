"""Stylize an image, folder or video, or export a model: python stylize.py ckpt=... output=...

File names with spaces, commas, '=' or brackets need quoting for Hydra's override grammar
(python stylize.py 'input="IMG 1 (copy).jpg"'); ``fastnst stylize`` takes plain paths.
"""

from fastnst.app.commands import stylize_main

if __name__ == "__main__":
    stylize_main()
