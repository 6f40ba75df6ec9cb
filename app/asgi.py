"""ASGI entry point for uvicorn workers: `uvicorn app.asgi:app`."""

import gc
import logging

from sqlalchemy.exc import OperationalError

from app.main import create_app
from app.pdf import warm_up
from app.services.summary import ensure_current, keep_copies_current
from app.templating import compile_templates

app = create_app()
# Before the first request: rebuild the track summaries when the content changed since they
# were built (or a track has none). Workers starting together wait for one another (see there).
try:
    ensure_current(engine=app.state.engine, catalog=app.state.catalog)
except OperationalError:
    # A worker replaced during a database outage (`maeul serve` migrates before any worker, so
    # the database was up when the first ones checked the summaries): serve 503s until it is
    # back rather than crash and be restarted in a loop.
    logging.getLogger("maeul").warning("database unreachable at worker start; summaries not checked")
# The 현황판's stored counts follow the calendar: each night (KST), in every worker.
keep_copies_current(engine=app.state.engine)
warm_up()
# What start-up made (modules, templates, the catalog, fonts) lives as long as the worker: out of
# the collector's sight, a full collection walks only what requests left behind. Under the mixed
# load each one walked all ~240,000 objects, about 90 ms of CPU with the worker's requests
# stalled; frozen, about half that, and the mix's p99 fell from about 430 to 300 ms.
compile_templates()
gc.collect()
gc.freeze()
