"""Annotated dependency aliases used by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from app.catalog import Catalog
from app.catalog.schema import BusinessModel
from app.config import Settings
from app.db import get_session

# scope="function": the session commits before the response is sent (see app.db).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_business_model(model_key: str, catalog: CatalogDep) -> BusinessModel:
    model = catalog.model(model_key)
    if model is None:
        raise HTTPException(status_code=404, detail="사업모델을 찾을 수 없습니다.")
    return model


CurrentModel = Annotated[BusinessModel, Depends(get_business_model)]
