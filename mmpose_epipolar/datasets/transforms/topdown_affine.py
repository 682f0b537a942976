# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from typing import Dict, Optional

import numpy as np
from mmpose.datasets.transforms import TopdownAffine
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ContiguousTopdownAffine(TopdownAffine):
    """MMPose's :class:`TopdownAffine` on an image copied to contiguous
    memory first when it is a strided view.

    ``RandomFlip`` flips with ``mmcv.imflip``, a negative-stride view of
    the image; ``cv2.warpAffine`` then takes a slow path: 0.44 ms instead
    of 0.06 ms to warp a 256 x 256 image to 96 x 96 (one AMD EPYC core),
    for half of the training views. The copy costs about 0.02 ms and the
    warped pixels are the same.
    """

    def transform(self, results: Dict) -> Optional[dict]:
        img = results.get('img')
        if isinstance(img, np.ndarray) and not img.flags['C_CONTIGUOUS']:
            results['img'] = np.ascontiguousarray(img)
        return super().transform(results)
