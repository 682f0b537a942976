# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Image loading that leaves out unreadable images instead of stopping the
run (missing, empty, truncated or undecodable files), with an optional
cache of decoded images."""
import os
from collections import OrderedDict
from typing import Hashable, List, Optional, Tuple

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS

#: Meta key (pack it with ``PackPoseInputs(meta_keys=...)``) through which
#: :class:`LoadImageOrSkip` reports unreadable images to
#: ``UnreadableImageHook``: a tuple of ``(img_path, reason)`` pairs.
UNREADABLE_KEY = 'unreadable_images'

_JPEG_SOI = b'\xff\xd8'
_JPEG_EOI = b'\xff\xd9'
_JPEG_SOS = 0xDA
# Markers without a length field: TEM, RST0-7, SOI, EOI.
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xDA)}


def jpeg_truncation(data: bytes) -> Optional[str]:
    """Why a JPEG byte string is cut short, or None if it is complete.

    OpenCV 4.11 refuses a truncated JPEG (``imdecode`` gives None), but a
    tolerant decoder fills the missing rows with grey and returns a damaged
    picture without an error: Pillow does once any library has set
    ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` (a process-wide switch), so the
    check is made on the bytes, whatever the ``imdecode_backend``. A
    complete JPEG has an end-of-image marker after its first scan; inside
    the entropy-coded data a 0xFF byte is always followed by 0x00 or a
    restart marker, so the marker cannot occur there by chance.

    Args:
        data (bytes): The file's bytes.

    Returns:
        str | None: The problem, or None when complete or not a JPEG (other
        formats are left to the decoder).
    """
    if not data.startswith(_JPEG_SOI):
        return None
    pos = len(_JPEG_SOI)
    # Walk the header segments by their lengths (an EXIF thumbnail inside
    # APP1 has markers of its own) up to the first start-of-scan.
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # damaged header: the decoder will refuse it
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == _JPEG_SOS:
            if data.find(_JPEG_EOI, pos) < 0:
                return 'truncated JPEG (no end-of-image marker)'
            return None
        elif marker in _JPEG_STANDALONE:
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], 'big')
    return 'truncated JPEG (the file ends inside its header)'


class DecodedImageCache:
    """The decoded images of one process, least recently used first out
    beyond a byte budget.

    Each image is stored read-only: a transform that writes into the
    loaded image in place then fails instead of changing what later
    samples read (this project's transforms all write into copies).
    """

    def __init__(self) -> None:
        self._images: 'OrderedDict[Hashable, np.ndarray]' = OrderedDict()
        self.nbytes = 0
        self.budget = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Optional[np.ndarray]:
        img = self._images.get(key)
        if img is None:
            self.misses += 1
            return None
        self._images.move_to_end(key)
        self.hits += 1
        return img

    def put(self, key: Hashable, img: np.ndarray) -> np.ndarray:
        """Store ``img`` (made read-only) if it fits the budget; returns
        it."""
        img.flags.writeable = False
        if img.nbytes > self.budget:
            return img
        old = self._images.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        self._images[key] = img
        self.nbytes += img.nbytes
        while self.nbytes > self.budget:
            _, evicted = self._images.popitem(last=False)
            self.nbytes -= evicted.nbytes
        return img


#: The cache every :class:`LoadImageOrSkip` with ``cache_mb`` shares in
#: this process, so the trainings, the teacher's inference and the tests
#: of one quick start decode each image once.
DECODED_IMAGES = DecodedImageCache()


@TRANSFORMS.register_module()
class LoadImageOrSkip(LoadImage):
    """MMPose's :class:`LoadImage` that leaves out unreadable images.

    An image is unreadable when its file is missing or cannot be read, is
    empty, is a truncated JPEG (see :func:`jpeg_truncation`) or cannot be
    decoded. What happens then depends on the loop the pipeline serves:

    - training (``test_mode=False``): the transform returns None, so
      MMEngine's :class:`BaseDataset` draws another sample in its place; the
      skipped ``(img_path, reason)`` pairs travel to the main process in the
      meta key ``unreadable_images`` of the next sample this transform
      loads (the one that replaces them, in the same batch), where
      ``UnreadableImageHook`` logs each path once, counts them per epoch and
      stops the run when there are too many. That works for any number of
      DataLoader workers: each worker reports what it skipped through its
      own samples.
    - validation and test (``test_mode=True``): MMEngine refuses None at
      test time, so the transform returns a 1-pixel black stand-in whose
      ``unreadable_images`` is ``((img_path, reason),)``;
      ``UnreadableImageHook`` takes it out of the batch before the model
      runs, so the metrics are computed on the readable samples only, and
      reports the files by name.

    Every returned sample has ``unreadable_images`` (empty when nothing was
    skipped); list it in ``PackPoseInputs``'s ``meta_keys``.

    Required keys: ``img_path``, or ``img`` (then nothing is read). Modified
    keys: ``img`` (H, W, 3) or (H, W), ``img_shape``, ``ori_shape``. Added
    keys: ``unreadable_images`` (tuple of ``(str, str)``).

    Args:
        test_mode (bool): Whether the pipeline serves a validation or test
            loop (stand-ins instead of None). Defaults to False.
        max_consecutive_skips (int): Training raises once this many images
            in a row could not be read (a wrong ``data_root`` or
            ``data_prefix``), naming some of them, instead of MMEngine's
            anonymous error after ``max_refetch`` attempts. Defaults to 100.
        cache_mb (int): Budget in MiB of :data:`DECODED_IMAGES`, the
            process's cache of decoded local images (keyed by path,
            modification time and size, so a rewritten file is read
            again). It is worth its memory when the images are few and
            small and are read again and again, as the quick start's 6720
            JPEGs of 256 x 256 (1.3 GB decoded, 0.37 ms a view to decode).
            Each DataLoader worker holds its own. The loaded image is then
            read-only. Defaults to 0 (no cache).
        **kwargs: :class:`LoadImage`'s arguments (``to_float32``,
            ``color_type``, ``imdecode_backend``, ``backend_args``).
    """

    def __init__(self,
                 test_mode: bool = False,
                 max_consecutive_skips: int = 100,
                 cache_mb: int = 0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if cache_mb < 0:
            raise ValueError(f'cache_mb must be >= 0, got {cache_mb}')
        self.test_mode = test_mode
        self.max_consecutive_skips = max_consecutive_skips
        self.cache_mb = cache_mb
        if cache_mb:
            DECODED_IMAGES.budget = max(DECODED_IMAGES.budget,
                                        cache_mb * 2**20)
        # (img_path, reason) skipped since this process's last good sample.
        self._skipped: List[Tuple[str, str]] = []

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``; see the class docstring.

        Args:
            results (dict): The sample.

        Returns:
            dict | None: The sample, a stand-in (``test_mode``) or None.
        """
        if 'img' not in results:
            path = str(results['img_path'])
            img, reason = self._cached_read(path)
            if img is None:
                return self._unreadable(results, path, reason)
            results['img'] = img
        # LoadImage's in-memory branch sets the shapes and the dtype.
        results = super().transform(results)
        results[UNREADABLE_KEY] = tuple(self._skipped)
        self._skipped = []
        return results

    def _cached_read(self,
                     path: str) -> Tuple[Optional[np.ndarray], str]:
        """:meth:`_read` through :data:`DECODED_IMAGES` (with
        ``cache_mb``, for local files)."""
        if not self.cache_mb or self.file_client_args is not None:
            return self._read(path)
        try:
            stat = os.stat(path)
        except OSError:
            return self._read(path)  # which names the problem
        key = (path, stat.st_mtime_ns, stat.st_size, self.color_type,
               self.imdecode_backend)
        img = DECODED_IMAGES.get(key)
        if img is not None:
            return img, ''
        img, reason = self._read(path)
        if img is not None:
            img = DECODED_IMAGES.put(key, img)
        return img, reason

    def _read(self, path: str) -> Tuple[Optional[np.ndarray], str]:
        """The decoded image, or None and why it cannot be read."""
        try:
            if self.file_client_args is not None:
                data = fileio.FileClient.infer_client(self.file_client_args,
                                                      path).get(path)
            else:
                data = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            return None, 'file not found'
        except Exception as e:  # permissions, a folder, a remote backend
            return None, f'cannot be read ({type(e).__name__}: {e})'
        if len(data) == 0:
            return None, 'empty file'
        truncation = jpeg_truncation(data)
        if truncation is not None:
            return None, truncation
        try:
            img = mmcv.imfrombytes(
                data, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:
            return None, f'cannot be decoded ({type(e).__name__}: {e})'
        if img is None:
            return None, 'cannot be decoded as an image'
        return img, ''

    def _unreadable(self, results: dict, path: str,
                    reason: str) -> Optional[dict]:
        if self.test_mode:
            channels = () if self.color_type == 'grayscale' else (3, )
            results['img'] = np.zeros((1, 1) + channels, np.uint8)
            results = super().transform(results)
            results[UNREADABLE_KEY] = ((path, reason), )
            return results
        self._skipped.append((path, reason))
        if len(self._skipped) >= self.max_consecutive_skips:
            examples = '; '.join(f'{p} ({r})' for p, r in self._skipped[:3])
            raise RuntimeError(
                f'{len(self._skipped)} images in a row could not be read, '
                f'e.g. {examples}: check the dataset\'s data_root, '
                'data_prefix and image files')
        return None

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(test_mode={self.test_mode}, '
                f'max_consecutive_skips={self.max_consecutive_skips}, '
                f'cache_mb={self.cache_mb}, '
                f"color_type='{self.color_type}', "
                f"imdecode_backend='{self.imdecode_backend}', "
                f'backend_args={self.backend_args})')
