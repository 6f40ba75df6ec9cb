"""ASGI entry point for uvicorn workers: `uvicorn app.asgi:app`."""

import logging

from sqlalchemy.exc import OperationalError

from app.main import create_app
from app.pdf import warm_up
from app.services.summary import ensure_current, keep_copies_current

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
