"""One training step of Pose ResNet against MMPose's SimpleBaseline.

Both models are built in this process from configs (ours: the published
``configs/_base_/models/pose-resnet_cbam-res50-wasp.py``; SimpleBaseline:
MMPose's ``td-hm_res50_8xb64-210e_mpii-256x256.py`` model, ResNet-50 plus
three deconvolutions to 64 x 64 heatmaps), at the same input size and batch,
and timed on forward + backward + optimizer step of their real losses.
Printed as ratios ours / SimpleBaseline, with parameters and FLOPs.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` of one step. On
CPU there is no allocator peak counter, so the script reports the training
step's resident tensors instead: parameters, gradients, Adam state and every
tensor autograd saves for the backward pass (unique storages), which is what
dominates a training step's peak.

Usage:
    python benchmarks/train_step.py [--batch 16] [--input 256] [--steps 5]
        [--device cpu|cuda] [--depth-bins 64]

Targets on a GPU: step time <= 1.3x and peak memory <= 1.5x SimpleBaseline.
"""
import argparse
import contextlib
import logging
import os.path as osp
import sys
import time
from typing import Optional

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmpose  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402
from mmpose.registry import KEYPOINT_CODECS, MODELS  # noqa: E402
from mmpose.structures import PoseDataSample  # noqa: E402

import mmpose_epipolar  # noqa: E402,F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
OURS = osp.join(ROOT, 'configs/_base_/models/pose-resnet_cbam-res50-wasp.py')
SIMPLEBASELINE = osp.join(
    osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint',
    'topdown_heatmap', 'mpii', 'td-hm_res50_8xb64-210e_mpii-256x256.py')


def build(cfg_path: str, input_size: int, depth_bins: int,
          head: Optional[dict] = None):
    """The config's model at ``input_size`` with ``depth_bins`` (and the
    ``head`` settings, when given), initialised, and its codec."""
    cfg = Config.fromfile(cfg_path)
    model_cfg = cfg.model
    model_cfg.backbone.init_cfg = None
    if head:
        model_cfg.head.update(head)
    codec = dict(cfg.codec)
    codec['input_size'] = (input_size, input_size)
    if 'heatmap_size' in codec:
        codec['heatmap_size'] = (input_size // 4, input_size // 4)
    else:
        model_cfg.head.depth_bins = depth_bins
    model_cfg.head.decoder = codec
    model = MODELS.build(model_cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights logs every parameter
    model.init_weights()
    logger.setLevel(level)
    return model, KEYPOINT_CODECS.build(codec)


def make_batch(codec, batch: int, input_size: int, num_keypoints: int,
               device: str):
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(batch):
        keypoints = rng.uniform(16, input_size - 16, (1, num_keypoints, 2))
        kwargs = {}
        if 'bbox_scale' in codec.auxiliary_encode_keys:
            keypoints = np.concatenate(
                [keypoints, rng.uniform(-50, 50, (1, num_keypoints, 1))], -1)
            kwargs['bbox_scale'] = np.full((1, 2), float(input_size))
        encoded = codec.encode(keypoints, np.ones((1, num_keypoints)),
                               **kwargs)
        sample = PoseDataSample(
            metainfo=dict(input_size=(input_size, input_size)))
        sample.gt_instance_labels = InstanceData(**{
            k: torch.as_tensor(v)
            for k, v in encoded.items() if k.startswith('keypoint_')
        })
        if 'heatmaps' in encoded:
            from mmengine.structures import PixelData
            sample.gt_fields = PixelData(
                heatmaps=torch.as_tensor(encoded['heatmaps']))
        samples.append(sample)
    inputs = torch.rand(batch, 3, input_size, input_size) * 255
    return dict(inputs=inputs, data_samples=samples)


def train_step(model, optimizer, data, bf16: bool = False):
    """One training step; with ``bf16`` only the forward pass runs under
    autocast (as MMEngine's ``AmpOptimWrapper`` does), backward and the
    optimizer step outside it."""
    autocast = (torch.autocast('cpu', dtype=torch.bfloat16)
                if bf16 else contextlib.nullcontext())
    with autocast:
        batch = model.data_preprocessor(data, training=True)
        losses = model(**batch, mode='loss')
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
    optimizer.zero_grad(set_to_none=False)
    loss.backward()
    optimizer.step()
    return loss


def saved_activation_bytes(model, data) -> int:
    """Bytes of unique storages autograd keeps for one backward pass."""
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    batch = model.data_preprocessor(data, training=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        losses = model(**batch, mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    return sum(storages.values())


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def measure(name, cfg_path, num_keypoints, args):
    torch.manual_seed(0)
    model, codec = build(cfg_path, args.input, args.depth_bins)
    model.to(args.device).train()
    data = make_batch(codec, args.batch, args.input, num_keypoints,
                      args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_step(model, optimizer, data)  # warm-up, allocates Adam state

    if args.device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        train_step(model, optimizer, data)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)

    params = list(model.parameters())
    if args.device.startswith('cuda'):
        memory = torch.cuda.max_memory_allocated()
        memory_kind = 'CUDA peak allocated'
    else:
        state = [
            v for s in optimizer.state.values() for v in s.values()
            if torch.is_tensor(v)
        ]
        memory = (2 * tensor_bytes(params) + tensor_bytes(state) +
                  saved_activation_bytes(model, data))
        memory_kind = 'params+grads+Adam+saved activations'

    flops = float('nan')
    try:
        from mmengine.analysis import FlopAnalyzer
        model.eval()
        with torch.no_grad():
            analyzer = FlopAnalyzer(
                _TensorForward(model),
                torch.rand(1, 3, args.input, args.input,
                           device=args.device))
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            flops = analyzer.total() / 1e9
    except Exception as err:  # FLOP counting is informative only
        print(f'[{name}] FLOP count failed: {err}')
    return dict(
        name=name,
        step=float(np.median(times)),
        memory=memory,
        memory_kind=memory_kind,
        params=sum(p.numel() for p in params) / 1e6,
        gflops=flops)


class _TensorForward(torch.nn.Module):
    """Backbone + neck + head on a tensor, for FLOP counting."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model._forward(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--input', type=int, default=256)
    parser.add_argument('--depth-bins', type=int, default=64)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()
    init_default_scope('mmpose')

    device_name = (torch.cuda.get_device_name()
                   if args.device.startswith('cuda') else
                   f'CPU ({torch.get_num_threads()} threads)')
    print(f'device: {device_name} | batch {args.batch} | input '
          f'{args.input}x{args.input} | depth bins {args.depth_bins} | '
          f'median of {args.steps} steps')
    base = measure('SimpleBaseline ResNet-50', SIMPLEBASELINE, 16, args)
    ours = measure('Pose ResNet (CBAM+WASP+volumetric)', OURS, 16, args)
    print(f'{"model":40s} {"step s":>8s} {"memory MiB":>11s} '
          f'{"params M":>9s} {"GFLOPs":>8s}')
    for r in (base, ours):
        print(f'{r["name"]:40s} {r["step"]:8.3f} {r["memory"] / 2**20:11.1f}'
              f' {r["params"]:9.2f} {r["gflops"]:8.2f}')
    print(f'memory measure: {ours["memory_kind"]}')
    print(f'ratio step time ours/SimpleBaseline: '
          f'{ours["step"] / base["step"]:.2f} (GPU target <= 1.3)')
    print(f'ratio peak memory ours/SimpleBaseline: '
          f'{ours["memory"] / base["memory"]:.2f} (GPU target <= 1.5)')


if __name__ == '__main__':
    main()
