"""ASGI entry point for uvicorn workers: `uvicorn app.asgi:app`."""

from app.main import create_app
from app.pdf import warm_up
from app.services.summary import ensure_current, keep_copies_current

app = create_app()
# Before the first request: rebuild the track summaries when the content changed since they
# were built (or a track has none). Workers starting together wait for one another (see there).
ensure_current(engine=app.state.engine, catalog=app.state.catalog)
# The 현황판's stored counts follow the calendar: each night (KST), in every worker.
keep_copies_current(engine=app.state.engine)
warm_up()
