"""Foundation shared by every layer: paths and limits, error types, coordinate systems.

Nothing here imports another project package, so reading (``layers``), the spatial core and
metrics (``geo``), the view model, the renderers and the UI can all build on it.
"""
