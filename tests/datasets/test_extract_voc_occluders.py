"""End-to-end test of tools/dataset_converters/extract_voc_occluders.py on a
tiny generated Pascal-VOC-like folder."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmpose_epipolar.datasets import load_occluder_bank

REPO = Path(__file__).parents[2]
TOOL = REPO / 'tools' / 'dataset_converters' / 'extract_voc_occluders.py'
CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle',
           'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
           'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
           'tvmonitor')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('extract_voc_occluders',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_png(path, indices):
    im = Image.fromarray(indices.astype(np.uint8), mode='P')
    palette = np.random.default_rng(0).integers(0, 255, 768).tolist()
    im.putpalette(palette)
    im.save(path)


def _write_voc(root: Path):
    """Two images; objects are rectangles with a 255 (void) outline.

    Returns the boxes (y0, y1, x0, x1) and colours of the objects that must
    be kept.
    """
    for d in ('Annotations', 'JPEGImages', 'SegmentationClass',
              'SegmentationObject'):
        (root / d).mkdir(parents=True)
    images = {
        '2007_000001': [  # name, difficult, truncated, box
            ('aeroplane', 0, 0, (10, 50, 10, 70)),
            ('person', 0, 0, (60, 110, 10, 60)),
            ('dog', 1, 0, (10, 60, 80, 130)),
            ('cat', 0, 1, (70, 115, 80, 130)),
        ],
        '2007_000002': [
            ('bird', 0, 0, (5, 15, 5, 15)),  # 100 px: tiny
            ('chair', 0, 0, (30, 100, 40, 100)),
        ],
    }
    kept = []
    rng = np.random.default_rng(1)
    for image_id, objects in images.items():
        h, w = 120, 140
        img = np.full((h, w, 3), 128, np.uint8)
        inst = np.zeros((h, w), np.uint8)
        cls = np.zeros((h, w), np.uint8)
        xml = ['<annotation>']
        for i, (name, difficult, truncated, (y0, y1, x0, x1)) in enumerate(
                objects, start=1):
            colour = rng.integers(0, 255, 3).astype(np.uint8)
            img[y0:y1, x0:x1] = colour
            inst[y0 - 1:y1 + 1, x0 - 1:x1 + 1] = 255
            cls[y0 - 1:y1 + 1, x0 - 1:x1 + 1] = 255
            inst[y0:y1, x0:x1] = i
            cls[y0:y1, x0:x1] = CLASSES.index(name)
            xml.append(f'<object><name>{name}</name><truncated>{truncated}'
                       f'</truncated><difficult>{difficult}</difficult>'
                       '</object>')
            if name in ('aeroplane', 'chair'):
                kept.append(((y0, y1, x0, x1), colour))
        xml.append('</annotation>')
        (root / 'Annotations' / f'{image_id}.xml').write_text(''.join(xml))
        # PNG, not JPEG, would be lossless; VOC images are JPEG, so use a
        # high quality to keep colours within a few levels.
        Image.fromarray(img).save(
            root / 'JPEGImages' / f'{image_id}.jpg', quality=100)
        _write_png(root / 'SegmentationObject' / f'{image_id}.png', inst)
        _write_png(root / 'SegmentationClass' / f'{image_id}.png', cls)
    return kept


def test_extracts_only_usable_objects(tool, tmp_path, capsys):
    voc = tmp_path / 'VOC2012'
    kept = _write_voc(voc)
    out = tmp_path / 'bank' / 'occluders.npz'
    assert tool.main(['--voc-root', str(voc), '--out', str(out),
                      '--min-area', '500']) == 0
    assert 'dropped' in capsys.readouterr().out
    patches = load_occluder_bank(str(out))
    meta = np.load(out)['meta'].item()
    assert '"person": 1' in meta and '"difficult": 1' in meta
    assert '"truncated": 1' in meta and '"tiny": 1' in meta
    # only the aeroplane (40x60) and the chair (70x60) remain, in order
    assert len(patches) == 2
    for patch, ((y0, y1, x0, x1), colour) in zip(patches, kept):
        # eroded by 1 px, padded by margin 2 + 3 sigma = 5 px
        assert patch.shape == (y1 - y0 - 2 + 10, x1 - x0 - 2 + 10, 4)
        centre = patch[patch.shape[0] // 2, patch.shape[1] // 2]
        assert centre[3] == 255
        assert np.abs(centre[:3].astype(int) - colour).max() <= 3
        assert patch[0, 0, 3] == 0 and patch[-1, -1, 3] == 0
        # soft border
        assert ((patch[..., 3] > 0) & (patch[..., 3] < 255)).any()


def test_tiny_threshold_and_missing_root(tool, tmp_path):
    voc = tmp_path / 'VOC2012'
    _write_voc(voc)
    patches, stats = tool.extract_voc_occluders(str(voc), min_area=50)
    assert len(patches) == 3  # the 10x10 bird passes a 50 px threshold
    assert stats['dropped']['tiny'] == 0 and stats['images'] == 2
    with pytest.raises(FileNotFoundError, match='SegmentationObject'):
        tool.extract_voc_occluders(str(tmp_path / 'nothing'))


def test_command_line(tmp_path):
    voc = tmp_path / 'VOC2012'
    _write_voc(voc)
    out = tmp_path / 'occluders.npz'
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, str(TOOL), '--voc-root', str(voc), '--out',
         str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'Wrote 2 occluders from 2 images' in proc.stdout
    assert len(load_occluder_bank(str(out))) == 2
