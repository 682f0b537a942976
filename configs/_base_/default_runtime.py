_base_ = ['mmpose::_base_/default_runtime.py']

# Registers mmpose-epipolar's components (and applies its compatibility
# fixes) before the Runner builds anything.
custom_imports = dict(imports=['mmpose_epipolar'], allow_failed_imports=False)

# MMPose's SyncBuffersHook, plus the report of images that LoadImageOrSkip
# could not read: logged once each and counted per epoch in training, the
# run stopped past 1% of an epoch; named, and left out of the metrics, in
# validation and test.
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='UnreadableImageHook', max_skip_ratio=0.01),
]
