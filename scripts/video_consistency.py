"""Flicker of stylized video: warping error, style and content loss of each network on a clip.

python scripts/video_consistency.py input=clip.mp4 'ckpts={per_frame: a.ckpt, warp: b.ckpt}'
"""

from fastnst.app.commands import video_consistency_main

if __name__ == "__main__":
    video_consistency_main()
