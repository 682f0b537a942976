# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Data loading speed of the multi-view datasets (one process, no workers).

Runs a typical top-down training pipeline at 256x256 (``LoadImage``,
``GetBBoxCenterScale``, ``RandomBBoxTransform``, ``TopdownAffine``,
optionally ``SyntheticOcclusion``, ``PackPoseInputs``) over
``H36MMultiViewDataset`` on the real Human3.6M sample and over
``SyntheticMultiViewDataset``, and prints items per second of one worker::

    python benchmarks/data_loading.py
    python benchmarks/data_loading.py --occluder-bank data/occluders.npz
    python benchmarks/data_loading.py \
        --coco-occluders ../shared/data/mmpose-testdata/coco
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

REPO = osp.join(osp.dirname(osp.abspath(__file__)), '..')
SHARED = osp.join(REPO, '..', 'shared', 'data', 'mmpose-testdata')


def train_pipeline(input_size, occluder_bank=None):
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='RandomBBoxTransform'),
        dict(type='TopdownAffine', input_size=input_size),
    ]
    if occluder_bank:
        pipeline.append(
            dict(type='SyntheticOcclusion', bank_file=occluder_bank,
                 prob=0.5))
    pipeline.append(
        dict(
            type='PackPoseInputs',
            meta_keys=('id', 'img_id', 'img_path', 'input_size',
                       'input_center', 'input_scale', 'flip_indices',
                       'camera_param', 'view_group', 'subject', 'action')))
    return pipeline


def coco_occluder_bank(coco_root, out_file):
    """Build a small occluder bank from the COCO sample's person masks."""
    from mmpose_epipolar.datasets import (
        coco_person_occluders,
        save_occluder_bank,
    )
    save_occluder_bank(out_file, coco_person_occluders(coco_root),
                       dict(source=coco_root))
    return out_file


def time_dataset(dataset, num_items, warmup=5):
    """Items per second of ``dataset[i]`` (pipeline included)."""
    n = len(dataset)
    for i in range(min(warmup, n)):
        dataset[i]
    start = time.perf_counter()
    for k in range(num_items):
        dataset[k % n]
    seconds = time.perf_counter() - start
    return num_items / seconds, 1000. * seconds / num_items


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-items', type=int, default=200)
    parser.add_argument('--input-size', type=int, default=256)
    parser.add_argument('--h36m-root', default=osp.join(SHARED, 'h36m'),
                        help='folder of test_h36m_body3d.npz + cameras.pkl')
    parser.add_argument('--synthetic-root', default='data/synthetic_h36m',
                        help='cache folder of the synthetic dataset')
    parser.add_argument('--synthetic-image-size', type=int, default=256)
    parser.add_argument('--occluder-bank', default=None,
                        help='add SyntheticOcclusion(prob=0.5) with this bank')
    parser.add_argument('--coco-occluders', default=None,
                        help='build a bank from this COCO sample folder')
    args = parser.parse_args(argv)

    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    import mmpose_epipolar.datasets  # noqa: F401
    init_default_scope('mmpose')

    bank = args.occluder_bank
    if bank is None and args.coco_occluders:
        bank = coco_occluder_bank(
            args.coco_occluders,
            osp.join(tempfile.mkdtemp(), 'coco_occluders.npz'))
    size = (args.input_size, args.input_size)
    results = []

    if osp.isfile(osp.join(args.h36m_root, 'test_h36m_body3d.npz')):
        ds = DATASETS.build(
            dict(
                type='H36MMultiViewDataset',
                data_root=args.h36m_root,
                ann_file='test_h36m_body3d.npz',
                camera_param_file='cameras.pkl',
                data_prefix=dict(img=''),
                pipeline=train_pipeline(size, bank)))
        rate, ms = time_dataset(ds, args.num_items)
        results.append(('H36MMultiViewDataset (real sample, 1000x1002 JPEG)',
                        len(ds), rate, ms))
    else:
        print(f'skipping the H36M sample: not found in {args.h36m_root}')

    start = time.perf_counter()
    ds = DATASETS.build(
        dict(
            type='SyntheticMultiViewDataset',
            data_root=args.synthetic_root,
            image_size=args.synthetic_image_size,
            pipeline=train_pipeline(size, bank)))
    setup = time.perf_counter() - start
    rate, ms = time_dataset(ds, args.num_items)
    s = args.synthetic_image_size
    results.append((f'SyntheticMultiViewDataset ({s}x{s} JPEG)', len(ds),
                    rate, ms))

    print(f'pipeline: {[t["type"] for t in train_pipeline(size, bank)]}')
    print(f'synthetic dataset setup (generate or reuse): {setup:.1f} s')
    print(f'{"dataset":55s} {"items":>6s} {"items/s":>8s} {"ms/item":>8s}')
    for name, n, rate, ms in results:
        print(f'{name:55s} {n:6d} {rate:8.1f} {ms:8.2f}')


if __name__ == '__main__':
    main()
