"""The province's view of its communes: every commune against every target of its plan for a month
or a quarter, the totals per kind of channel and per language, and the warnings of every commune;
and where a province item went out, commune by commune (``reach``).

Each commune is judged by its own plan exactly as its own dashboard judges it (``compliance.evaluate``);
a commune without a plan for the year is shown as such, never as "met". The same figures feed the
province's page, its CSV and XLSX exports and the roll-up tables of the province's report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, func, select

from channels.languages import LANGUAGE_NAMES
from scheduler.config import Config
from scheduler.errors import InputError
from scheduler.outbox.states import OPEN
from scheduler.plans.compliance import STATUS_TEXT, Status, evaluate_many
from scheduler.plans.periods import Span
from scheduler.record.models import Delivery, DeliveryState
from scheduler.record.scope import below
from scheduler.text import sort_key

WORST_FIRST = (Status.MISSED, Status.AT_RISK, Status.ON_TRACK, Status.MET, Status.NOT_APPLICABLE)


@dataclass
class Cell:
    """One commune's result on one target over the period: the worst of its languages and periods."""

    status: Status
    delivered: int
    required: int
    periods_met: int
    periods: int

    @property
    def text(self) -> str:
        return STATUS_TEXT[self.status]


@dataclass
class CommuneResult:
    unit: str
    name: str
    cells: dict[str, Cell] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None  # no plan for the year: nothing is judged

    def count(self, status: Status) -> int:
        return sum(cell.status == status for cell in self.cells.values())

    @property
    def rank(self) -> tuple:
        """Worst first: most targets missed, then most at risk; communes without a plan lead."""
        return (self.problem is None, *(-self.count(s) for s in WORST_FIRST[:2]), sort_key(self.name))


@dataclass
class ProvinceView:
    province: str
    province_name: str
    span: Span
    now: datetime
    targets: dict[str, str]  # key -> description, in the order the plans list them
    communes: list[CommuneResult]
    by_channel: list[dict]  # kind of channel, language, delivered, failed
    by_language: list[dict]

    def sorted(self, order: str) -> list[CommuneResult]:
        return sorted(self.communes, key=lambda c: c.rank if order == "worst" else sort_key(c.name))

    @property
    def missed(self) -> list[CommuneResult]:
        return [c for c in self.communes if c.count(Status.MISSED)]

    @property
    def without_plan(self) -> list[CommuneResult]:
        return [c for c in self.communes if c.problem]

    def totals(self, key: str) -> dict[Status, int]:
        """How many communes reached each status on target ``key``."""
        counts: dict[Status, int] = defaultdict(int)
        for commune in self.communes:
            if key in commune.cells:
                counts[commune.cells[key].status] += 1
        return counts

    def rows(self) -> list[list]:
        """The table of the exports: one row per commune and target."""
        out = []
        for commune in self.sorted("name"):
            if commune.problem:
                out.append([commune.name, "", "", "", "", commune.problem])
            for key, cell in commune.cells.items():
                out.append([commune.name, self.targets[key], cell.delivered, cell.required,
                            f"{cell.periods_met}/{cell.periods}", cell.text])
        return out


ROW_HEADERS = ["Đơn vị", "Chỉ tiêu", "Đã thực hiện", "Yêu cầu", "Số kỳ đạt", "Đánh giá"]


def gather(session: Session, config: Config, *, province: str, span: Span, now: datetime) -> ProvinceView:
    """Every commune below ``province`` judged over ``span`` at ``now``."""
    if province not in config.units or config.units[province].level != "province":
        provinces = ", ".join(uid for uid, u in config.units.items() if u.level == "province") or "chưa có"
        raise InputError("--unit", f"'{province}' không phải đơn vị cấp tỉnh; các tỉnh: {provinces}")
    communes = below(config, province)[1:]
    targets: dict[str, str] = {}
    results = []
    judged = evaluate_many(session, config, units=communes, span=span, now=now, coverage=False)
    for unit in communes:
        result = CommuneResult(unit, config.units[unit].name)
        compliance = judged[unit]
        if isinstance(compliance, InputError):
            result.problem = compliance.web or str(compliance).removeprefix(f"{compliance.field}: ")
            results.append(result)
            continue
        for summary in compliance.summaries:
            targets.setdefault(summary.key, summary.target.description)
            applicable = summary.applicable
            cell = Cell(summary.status, summary.delivered, summary.target.minimum * len(applicable), summary.met,
                        len(applicable))
            kept = result.cells.get(summary.key)
            if kept is None:
                result.cells[summary.key] = cell
            else:  # one cell a target: the worst language decides, the counts add up
                worst = min(kept.status, cell.status, key=WORST_FIRST.index)
                result.cells[summary.key] = Cell(worst, kept.delivered + cell.delivered, kept.required + cell.required,
                                                 kept.periods_met + cell.periods_met, kept.periods + cell.periods)
        result.warnings = [f"{row.target.description} ({LANGUAGE_NAMES[row.lang]}, {row.span.title}): đã có "
                           f"{row.delivered}, đã lên lịch {row.scheduled}, cần {row.target.minimum}"
                           for row in compliance.rows if row.warning]
        results.append(result)
    by_channel, by_language = _totals(session, config, communes, span)
    return ProvinceView(province, config.units[province].name, span, now, targets, results, by_channel, by_language)


def _totals(session: Session, config: Config, units: list[str], span: Span) -> tuple[list[dict], list[dict]]:
    """Delivered and failed in ``span`` on the communes' channels, by kind of channel and language (one query)."""
    failed = (DeliveryState.FAILED, DeliveryState.EXPIRED)
    names = {name: ch for name, ch in config.channels.items() if ch.unit in set(units)}
    # By channel, so the database reads each through its (channel, finish time) index.
    rows = session.exec(
        select(Delivery.channel_id, Delivery.lang, Delivery.state, func.count())
        .where(col(Delivery.channel_id).in_(list(names)), col(Delivery.finished_at) >= span.start_at,
               col(Delivery.finished_at) < span.end_at,
               col(Delivery.state).in_([DeliveryState.DELIVERED, *failed]))
        .group_by(Delivery.channel_id, Delivery.lang, Delivery.state)).all()
    per: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    langs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for channel, lang, state, count in rows:
        label = names[channel].channel_class.label
        slot = 0 if state == DeliveryState.DELIVERED else 1
        per[(label, lang)][slot] += count
        langs[lang][slot] += count
    order = {lang: n for n, lang in enumerate(LANGUAGE_NAMES)}
    by_channel = [{"kind": kind, "lang": LANGUAGE_NAMES.get(lang, lang), "delivered": d, "failed": f}
                  for (kind, lang), (d, f) in sorted(per.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9)))]
    by_language = [{"lang": LANGUAGE_NAMES.get(lang, lang), "delivered": d, "failed": f}
                   for lang, (d, f) in sorted(langs.items(), key=lambda kv: order.get(kv[0], 9))]
    return by_channel, by_language


# A commune's outcome for an item, the worst of its deliveries first: (key, text, states).
OUTCOMES = (("failed", "Không phát được", (DeliveryState.FAILED, DeliveryState.EXPIRED)),
            ("check", "Cần người kiểm tra", (DeliveryState.NEEDS_PERSON,)),
            ("waiting", "Đang chờ", tuple(s for s in OPEN if s != DeliveryState.NEEDS_PERSON)),
            ("played", "Đã phát", (DeliveryState.DELIVERED,)),
            ("none", "Không phát (đã hủy hoặc chỉ xem trước)", (DeliveryState.CANCELLED, DeliveryState.PREVIEWED)))


@dataclass
class Reach:
    """One commune's part of an item addressed to other units' channels."""

    unit: str
    name: str
    outcome: str
    text: str
    delivered: int
    deliveries: int
    error: str


def reach(config: Config, unit: str, deliveries: list[dict]) -> list[Reach]:
    """Where an item of ``unit`` went out on other units' channels (a province item on its communes'
    loudspeakers), a row per commune: where it failed first, then where it waits, then where it played.
    ``deliveries`` are ``queries.delivery_row`` rows. Empty for an item on its own unit's channels only."""
    per: dict[str, list[dict]] = defaultdict(list)
    for d in deliveries:
        channel = config.channels.get(d["channel"])
        if channel is not None and channel.unit != unit:
            per[channel.unit].append(d)
    rows = []
    for where, own in per.items():
        states = {d["state"] for d in own}
        key, text, _ = next(o for o in OUTCOMES if states & set(o[2]))
        error = next((d["error"] for d in own if d["error"] and d["state"] != DeliveryState.DELIVERED), "")
        rows.append(Reach(where, config.units[where].name, key, text,
                          sum(d["state"] == DeliveryState.DELIVERED for d in own), len(own), error))
    order = [o[0] for o in OUTCOMES]
    return sorted(rows, key=lambda r: (order.index(r.outcome), sort_key(r.name)))


def reach_summary(rows: list[Reach]) -> str:
    """"Đã phát ở 40/75 xã; không phát được ở 2 xã; đang chờ ở 33 xã"."""
    counts = {key: sum(r.outcome == key for r in rows) for key, _, _ in OUTCOMES}
    said = [f"Đã phát ở {counts['played']}/{len(rows)} xã"]
    said += [f"{text[:1].lower()}{text[1:]} ở {counts[key]} xã" for key, text, _ in OUTCOMES
             if key != "played" and counts[key]]
    return "; ".join(said)
