"""The activity log CSV a center opens in a spreadsheet."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.catalog import Catalog
from app.services import tracking
from tests.factories import World, login
from tests.fixtures.tracking_helpers import hub, start


def test_formula_like_text_is_neutralised(
    client: TestClient, db: Session, world: World, catalog: Catalog
) -> None:
    model = hub(catalog)
    track = start(db, world, catalog)
    world.users["center"].display_name = "=1+1"  # whatever a person typed as their name
    db.add(world.users["center"])
    db.flush()
    tracking.add_comment(
        session=db,
        principal=world.principal(db, "center"),
        track=track,
        model=model,
        item_key="operating-plan",
        body='=HYPERLINK("http://evil.example","클릭")',
    )
    login(client, "coop-a")
    r = client.get(f"/tracks/{track.id}/events.csv")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(r.text.removeprefix("\ufeff"))))
    comment_row = next(row for row in rows[1:] if row[3] == "의견")
    assert comment_row[2] == "'=1+1"
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)
