//! django-raster raster algebra (skeleton; see docs/contracts-edge.md).
