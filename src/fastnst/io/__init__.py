"""Files in and out: images (float RGB NCHW in [0, 1]), atomic writes, downloads."""
