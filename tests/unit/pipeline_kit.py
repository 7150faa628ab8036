"""Shared pieces for pipeline tests: events at the Tongji Bridge and a run on plain stores."""

from geo.cells import cell_of
from streams.pipeline.events import CameraReading, Ticket
from streams.pipeline.step import process_batch
from streams.pipeline.step_data import Output, PipelineConfig, Stores

T0 = 1_790_000_000_000
BRIDGE = (23.0258, 113.1166)
CAR_PARK = (23.0236, 113.1184)


def camera(t_s: float, people: int, cam: str = "cam-bridge", where=BRIDGE) -> CameraReading:
    lat, lon = where
    return CameraReading(
        id=f"{cam}-{t_s}",
        ts=int(T0 + t_s * 1000),
        lat=lat,
        lon=lon,
        cell=cell_of(lat, lon, 9),
        camera=cam,
        people=people,
        area_m2=400.0,
    )


def ticket(i: int, t_s: float, channel: str = "12345", where=CAR_PARK) -> Ticket:
    lat, lon = where[0] + (i % 3) * 0.0003, where[1] - (i % 2) * 0.0003
    return Ticket(
        id=f"t{i}",
        ts=int(T0 + t_s * 1000),
        channel=channel,
        category="traffic",
        text="停车场车辆被困",
        lat=lat,
        lon=lon,
        cell=cell_of(lat, lon, 9),
        caller="138****0000",
    )


class Run:
    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.stores = Stores.in_memory()
        self.cells = self.stores.cells
        self.config = config or PipelineConfig()
        self.outputs: list[Output] = []

    def feed(
        self, events: list, now_s: float, sweep: bool = False, actions: list | None = None
    ) -> Output:
        out = process_batch(
            events,
            stores=self.stores,
            partition=0,
            now_ms=int(T0 + now_s * 1000),
            config=self.config,
            sweep=sweep,
            actions=actions,
        )
        self.outputs.append(out)
        return out

    def alerts(self) -> list:
        return [a for o in self.outputs for a in o.alerts.values()]

    def signals(self, rule: str) -> list[dict]:
        return [s for a in self.alerts() for s in a.evidence["signals"] if s["rule"] == rule]

    def audit(self) -> list:
        return [e for o in self.outputs for e in o.audit]
