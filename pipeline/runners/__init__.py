"""Runners: each owns its environment (storage roots, metadata, Beam options, image)
and turns settings into a `PipelineConfig` for `create_pipeline`."""
