"""The pipeline, pure: input kinds and their decoding, placement, admission, folding,
measuring, the step that runs the rules, and the columnar hot path."""
