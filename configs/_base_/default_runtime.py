_base_ = ['mmpose::_base_/default_runtime.py']

# Registers mmpose-epipolar's components (and applies its compatibility
# fixes) before the Runner builds anything.
custom_imports = dict(imports=['mmpose_epipolar'], allow_failed_imports=False)
