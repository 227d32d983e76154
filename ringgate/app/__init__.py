"""The application layer: the ``ringgate`` command line, the main job, reports, synthesis
reports and benchmarks."""
