# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Generate the embedded synthetic multi-view Human3.6M look-alike.

Writes MMPose's preprocessed Human3.6M layout (``images/``,
``annotation_body3d/cameras.pkl``, ``annotation_body3d/fps50/h36m_*.npz``)
plus ``meta.json``; an existing folder with the same parameters is reused.

Example::

    python tools/dataset_converters/generate_synthetic_h36m.py \\
        data/synthetic_h36m --seed 0 --frames-per-sequence 16
"""
import argparse
import os
import sys
from typing import List, Optional

from mmpose_epipolar.datasets.h36m_utils import (
    H36M_TEST_SUBJECTS,
    H36M_TRAIN_SUBJECTS,
)
from mmpose_epipolar.datasets.synthetic.generator import (
    DEFAULT_ACTIONS,
    generate_synthetic_h36m,
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the synthetic multi-view Human3.6M data set '
        '(MMPose preprocess_h36m.py layout).')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--train-subjects', nargs='+', default=list(H36M_TRAIN_SUBJECTS))
    parser.add_argument(
        '--test-subjects', nargs='+', default=list(H36M_TEST_SUBJECTS))
    parser.add_argument(
        '--actions',
        nargs='+',
        default=list(DEFAULT_ACTIONS),
        help='Human3.6M action names')
    parser.add_argument('--subactions', nargs='+', type=int, default=[1])
    parser.add_argument('--frames-per-sequence', type=int, default=48)
    parser.add_argument(
        '--frame-step',
        type=int,
        default=2,
        help='frames of the 50 fps timeline between saved frames; the '
        'annotation folder is fps{50 // frame_step}')
    parser.add_argument('--image-size', type=int, default=256)
    parser.add_argument(
        '--workers',
        type=int,
        default=min(4, os.cpu_count() or 1),
        help='parallel worker processes (0: none); the output is the same')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace a folder generated with other parameters')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from mmengine.utils import ProgressBar
            bar = ProgressBar(total)
        if done > 0:
            bar.update()

    result = generate_synthetic_h36m(
        args.out_dir,
        seed=args.seed,
        train_subjects=args.train_subjects,
        test_subjects=args.test_subjects,
        actions=args.actions,
        subactions=args.subactions,
        frames_per_sequence=args.frames_per_sequence,
        frame_step=args.frame_step,
        image_size=args.image_size,
        overwrite=args.overwrite,
        num_workers=args.workers,
        progress=progress)
    counts = result['counts']
    images = counts['train_images'] + counts['test_images']
    if result['reused']:
        print(f'\nReused {result["root"]} (meta.json matches): '
              f'{counts["train_images"]} train and {counts["test_images"]} '
              'test images.')
    else:
        print(f'\nWrote {result["root"]}: {counts["train_images"]} train and '
              f'{counts["test_images"]} test images in '
              f'{result["seconds"]:.1f} s '
              f'({images / max(result["seconds"], 1e-9):.0f} images/s).')
    for split, path in result['ann_files'].items():
        print(f'  {split}: {path}')
    return result


if __name__ == '__main__':
    main(sys.argv[1:])
