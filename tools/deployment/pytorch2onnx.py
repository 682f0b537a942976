"""Export a Pose ResNet model to ONNX and check it against PyTorch.

Usage:
    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT] \\
        --out pose_resnet.onnx [--input-size W H] [--no-flip-test] \\
        [--opset 17] [--no-verify]

The graph takes normalised crops ``input`` (B, 3, H, W) (dynamic batch) and
returns ``keypoints`` (B, J, 3) normalised (x, y, depth) and ``scores``
(B, J). Run it with ``mmpose_epipolar.apis.onnx_runner.OnnxPose3D``, which
does the crop, normalisation and decoding to image pixels. Without a
checkpoint the weights are random (mechanics only; a warning is printed).
"""
import argparse
import os.path as osp
import sys
import warnings

# Let the tool run from a checkout without `pip install -e .`.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a Pose ResNet model to ONNX')
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint', nargs='?', default=None,
        help='checkpoint file (omit for random weights)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument(
        '--input-size', type=int, nargs=2, metavar=('W', 'H'),
        help='crop size; must match the codec (default: the codec size)')
    parser.add_argument(
        '--no-flip-test', action='store_true',
        help='leave the flip test out of the graph (about 2x faster)')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument(
        '--no-verify', action='store_true',
        help='skip the onnxruntime vs PyTorch comparison')
    return parser.parse_args(argv)


def verify(model, onnx_file: str, flip_test: bool, batch: int = 2) -> float:
    """Max abs difference of ONNX and PyTorch outputs on random crops."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from mmpose_epipolar.apis.export import Pose3DExportWrapper
    w, h = model.head.decoder.input_size
    inputs = torch.randn(batch, 3, h, w, generator=torch.Generator()
                         .manual_seed(0))
    with torch.no_grad():
        ref = Pose3DExportWrapper(model, flip_test)(inputs)
    session = ort.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    out = session.run(None, {'input': inputs.numpy()})
    return max(
        float(np.abs(o - r.numpy()).max()) for o, r in zip(out, ref))


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmpose_epipolar  # noqa: F401  (registration)
    from mmpose_epipolar.apis.export import export_onnx
    from mmpose_epipolar.apis.inference import init_model

    try:
        model = init_model(args.config, args.checkpoint, device='cpu')
    # A missing file, a URL, or a checkpoint that cannot be loaded
    # (mmpose_epipolar.utils.CheckpointLoadError, a ValueError): one line.
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    if args.checkpoint is None:
        warnings.warn('no checkpoint given: exporting RANDOM weights')
    flip_test = None if not args.no_flip_test else False
    out_dir = osp.dirname(osp.abspath(args.out))
    if not osp.isdir(out_dir):
        print(f'error: output folder {out_dir} does not exist',
              file=sys.stderr)
        return 1
    try:
        export_onnx(model, args.out,
                    tuple(args.input_size) if args.input_size else None,
                    flip_test=flip_test, opset=args.opset)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'exported {args.out}')
    if not args.no_verify:
        if flip_test is None:
            flip_test = bool((model.test_cfg or {}).get('flip_test', False))
        diff = verify(model, args.out, flip_test)
        print(f'onnxruntime vs PyTorch: max abs difference {diff:.2e}')
        if diff > 1e-3:
            print('error: ONNX output differs from PyTorch', file=sys.stderr)
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
