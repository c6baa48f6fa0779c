"""The image-folder resize (bilinear, antialiased when shrinking) against PyTorch's
interpolate(mode="bilinear", antialias=True, align_corners=False) on random images: every pixel
within 1 grey level (ours rounds to bytes; torch stays in float)."""
import os
import subprocess
import sys

import numpy as np
import torch

TOOL = os.path.join(os.environ["CGALR_TOOLS"], "tool_data_dump")
rng = np.random.default_rng(3)
bad = 0
for h, w, oh, ow in ((100, 90, 84, 84), (375, 500, 84, 84), (20, 30, 84, 84), (32, 32, 84, 84), (7, 5, 3, 9),
                     (1, 1, 4, 4), (84, 84, 84, 84)):
    img = rng.integers(0, 256, size=(3, h, w), dtype=np.uint8)
    if h > 8:  # smooth structure as well as noise, so both regimes are exercised
        yy, xx = np.mgrid[0:h, 0:w]
        img[0] = (127 + 120 * np.sin(xx / 7.0) * np.cos(yy / 5.0)).astype(np.uint8)
    r = subprocess.run([TOOL, "resize", str(h), str(w), str(oh), str(ow)], input=img.tobytes(), capture_output=True)
    if r.returncode:
        print("FAIL: tool rc", r.returncode, r.stderr)
        bad += 1
        continue
    mine = np.frombuffer(r.stdout, dtype=np.uint8).reshape(3, oh, ow).astype(np.int32)
    ref = torch.nn.functional.interpolate(torch.from_numpy(img.astype(np.float64))[None], size=(oh, ow),
                                          mode="bilinear", antialias=True, align_corners=False)[0]
    ref = ref.clamp(0, 255).round().numpy().astype(np.int32)
    diff = np.abs(mine - ref).max()
    print(f"{h}x{w} -> {oh}x{ow}: max difference {diff}")
    if diff > 1:
        bad += 1
sys.exit(1 if bad else 0)
