"""TiTiler for bench/tiles.sh: titiler.core's COG tiler at /cog, as titiler.application
mounts it, with TiTiler's error handlers (tiles outside the COG are 404, not 500)."""

from fastapi import FastAPI
from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
from titiler.core.factory import TilerFactory

app = FastAPI(title="titiler (tilefn benchmark)")
app.include_router(TilerFactory().router, prefix="/cog")
add_exception_handlers(app, DEFAULT_STATUS_CODES)
