"""Where the scenarios happen: GB/T 2260 codes, facilities and agencies of Sichuan (51).

Codes and coordinates are real (Chengdu 5101, Zigong 5103); facility and agency ids are
made up for the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Agency:
    """Who sends an event (the envelope's ``source``)."""

    agency_id: str
    agency_type: str  # health, emergency, public_security, transport, military

    def as_source(self) -> dict[str, str]:
        return {"agency_id": self.agency_id, "agency_type": self.agency_type}


@dataclass(frozen=True)
class County:
    code: str
    name: str
    lat: float
    lon: float

    @property
    def city(self) -> str:
        return self.code[:4]

    def location(self) -> dict[str, float]:
        return {"lat": self.lat, "lon": self.lon}


CHENGDU = (
    County("510104", "锦江区", 30.6570, 104.0830),
    County("510105", "青羊区", 30.6740, 104.0620),
    County("510106", "金牛区", 30.6910, 104.0520),
    County("510107", "武侯区", 30.6420, 104.0430),
    County("510108", "成华区", 30.6600, 104.1020),
)
LONGQUANYI = County("510112", "龙泉驿区", 30.5560, 104.2750)
ZIGONG = (
    County("510302", "自流井区", 29.3370, 104.7770),
    County("510303", "贡井区", 29.3460, 104.7150),
)
COUNTIES: dict[str, County] = {c.code: c for c in (*CHENGDU, LONGQUANYI, *ZIGONG)}


def hospital_id(county: str, n: int = 1) -> str:
    """A hospital of a county: ``H-510104-01``."""
    return f"H-{county}-{n:02d}"


def hospital(county: str, n: int = 1) -> Agency:
    """The hospital as a health agency reporting its own cases, beds and stock."""
    return Agency(hospital_id(county, n), "health")


DISPATCH_120 = Agency("120-5101", "health")  # Chengdu emergency medical dispatch
TRAFFIC_POLICE = Agency("PSB-5101-TRAFFIC", "public_security")
EXPRESSWAY = Agency("TRANS-5101-EXPWY", "transport")
EMERGENCY_MGMT = Agency("EM-5101", "emergency")
