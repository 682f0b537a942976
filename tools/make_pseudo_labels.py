"""Make epipolar 3D pseudo-labels from multi-view 2D predictions.

    python tools/make_pseudo_labels.py PREDICTIONS CAMERAS --out LABELS.npz
        [--mode pooled|per-frame] [--views 2] [--reproj-thresh 15]

PREDICTIONS: the pickle of ``tools/test.py CONFIG CKPT --dump preds.pkl``
or an NPZ with ``imgname`` (N,) and ``keypoints`` (N, J, 3). CAMERAS:
Human3.6M's ``cameras.pkl``. See ``mmpose_epipolar/apis/pseudo_labels.py``
and ``python tools/make_pseudo_labels.py --help``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmpose_epipolar.apis.pseudo_labels import (  # noqa: E402,F401
    group_frames,
    load_predictions,
    main,
    relative_imgname,
)

if __name__ == '__main__':
    main()
