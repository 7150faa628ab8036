"""The columnar hot path for camera readings (pure: numpy and msgspec, no Faust, no I/O).

A fetched batch of input records becomes columns in one pass
(:mod:`streams.pipeline.columnar.camera_columns`), the latest reading of each camera in each
cell is kept as arrays owned by the partition (:mod:`streams.pipeline.columnar.camera_state`),
and every cell whose inputs changed is fused in one vectorised round
(:mod:`streams.pipeline.columnar.crowd`). The per-object pipeline (streams/pipeline/cellfold.py,
alerts/crowd/camera_fusion.py) is the reference: tests/unit/test_columnar_*.py hold these equal to
it on generated batches.
"""
