"""The organizations: 지자체, 도시재생지원센터 and 마을조합."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class MunicipalityBase(SQLModel):
    # Full name as people write it, e.g. "서울특별시 용산구"; 세종특별자치시 has no 시군구.
    name: str = Field(max_length=100, unique=True)
    sido: str = Field(max_length=40)
    sigungu: str = Field(default="", max_length=40)


class Municipality(MunicipalityBase, table=True):
    """지자체 (table)."""

    id: int | None = Field(default=None, primary_key=True)


class SupportCenterBase(SQLModel):
    name: str = Field(max_length=100, unique=True)


class SupportCenter(SupportCenterBase, table=True):
    """도시재생지원센터 (table); the municipalities it serves are in CenterMunicipality."""

    __tablename__ = "support_center"
    id: int | None = Field(default=None, primary_key=True)


class CenterMunicipality(SQLModel, table=True):
    """Which municipalities a center serves (a 광역 center serves several)."""

    __tablename__ = "center_municipality"
    center_id: int = Field(foreign_key="support_center.id", primary_key=True, ondelete="CASCADE")
    municipality_id: int = Field(foreign_key="municipality.id", primary_key=True, ondelete="RESTRICT")


class CooperativeBase(SQLModel):
    name: str = Field(max_length=100, unique=True)
    site: str = Field(default="", max_length=200)  # 도시재생 사업지
    address: str = Field(default="", max_length=200)
    municipality_id: int = Field(foreign_key="municipality.id", index=True, ondelete="RESTRICT")
    support_center_id: int | None = Field(
        default=None, foreign_key="support_center.id", index=True, ondelete="SET NULL"
    )
    approved_on: date | None = None  # 설립인가일
    contact: str = Field(default="", max_length=200)


class Cooperative(CooperativeBase, table=True):
    """마을관리 사회적협동조합 (table)."""

    id: int | None = Field(default=None, primary_key=True)
