"""The msgspec path of camera and sensor records gives exactly the pydantic path's results."""

import math
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streams.pipeline.decode_fast
from citybrain.tools.bench.data import cameras, records
from streams.pipeline.decode import Decoded, Limits, decode_record_pydantic
from streams.pipeline.records import decode_record
from tests.bad_events import bad_events, bad_records, good_camera

NOW = 1_790_000_000_000
DAY_MS = 86_400_000
LIMITS = Limits()
KINDS = ("camera", "sensor")
CAMERA = {"id": "c1", "ts": NOW, "lat": 23.02, "lon": 113.11, "people": 4, "area_m2": 90.0}
SENSOR = {"id": "s1", "ts": NOW, "lat": 23.02, "lon": 113.11, "type": "smoke", "value": 0.5}


def same(kind: str, raw: bytes | None, limits: Limits = LIMITS) -> Decoded:
    """Both paths' result for ``raw``, asserted equal; ``repr`` also tells 1 from 1.0 and
    0.0 from -0.0, which ``==`` does not."""
    fast = decode_record(kind, raw, NOW, limits)  # type: ignore[arg-type]
    slow = decode_record_pydantic(kind, raw, NOW, limits)  # type: ignore[arg-type]
    assert fast == slow
    assert repr(fast) == repr(slow)
    return fast


# --- JSON text, written here so that numbers come in every spelling JSON allows ---------


def text(value: str) -> str:
    return orjson.dumps(value).decode()


@st.composite
def number_grammar(draw: st.DrawFn) -> str:
    """Any JSON number: long mantissas, huge or tiny exponents, -0, integers past 64 bits."""
    sign = draw(st.sampled_from(["", "-"]))
    whole = draw(st.text("0123456789", min_size=1, max_size=25)).lstrip("0") or "0"
    frac = draw(st.none() | st.text("0123456789", min_size=1, max_size=30))
    exp = draw(st.none() | st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"])))
    out = sign + whole + (f".{frac}" if frac is not None else "")
    if exp is not None:
        out += exp[0] + exp[1] + str(draw(st.integers(0, 400)))
    return out


def spellings(x: float) -> st.SearchStrategy[str]:
    """Ways to write the float ``x`` (each parses back to ``x``, or to a near one)."""
    forms = [repr(x), f"{x:.17g}", f"{x:.25e}", f"{x:.3E}", str(Decimal(x))]
    if x == int(x) and abs(x) < 2**70:
        forms.append(str(int(x)))  # as a JSON integer
    return st.sampled_from(forms)


def number(lo: float, hi: float) -> st.SearchStrategy[str]:
    """Mostly numbers in ``[lo, hi]`` or at its edges, sometimes any number at all."""
    edges = [lo, hi, math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf), 0.0, -0.0, 5e-324]
    near = st.floats(lo, hi) | st.sampled_from(edges)
    ints = st.integers(int(lo) - 2, int(hi) + 2) | st.sampled_from([int(lo) - 1, int(hi) + 1])
    return near.flatmap(spellings) | ints.map(str) | number_grammar()


def iso(ms: int) -> st.SearchStrategy[str]:
    at = datetime.fromtimestamp(ms / 1000, UTC)
    offsets = st.sampled_from([None, 0, 8, -5, 14]).map(
        lambda h: (
            at.replace(tzinfo=None) if h is None else at.astimezone(timezone(timedelta(hours=h)))
        )
    )
    return offsets.map(lambda d: text(d.isoformat().replace("+00:00", "Z")))


ts_values = st.integers(NOW - 2 * DAY_MS, NOW + DAY_MS).flatmap(
    lambda ms: st.sampled_from([str(ms), f"{ms}.75", f"{ms / 1000:.3f}e3", f"{ms}e0"]) | iso(ms)
) | st.sampled_from(
    [
        str(NOW - DAY_MS),  # the oldest accepted
        str(NOW - DAY_MS - 1),
        str(NOW + 300_000),  # the furthest ahead accepted
        str(NOW + 300_001),
        str(2**63),
        str(2**64 - 1),
        str(2**64 + 1),  # orjson reads it as a float
        str(-(2**63) - 1),
        "1e40",
        "-0",
        text("yesterday"),
        text(str(NOW)),
    ]
)
# lengths at the models' bounds (1, 32, 64, 128 code points), astral characters too
strings = st.sampled_from([0, 1, 2, 31, 32, 33, 63, 64, 65, 127, 128, 129]).flatmap(
    lambda n: st.text(min_size=n, max_size=n)
) | st.sampled_from(["😀" * 128, "😀" * 129])
anything = st.one_of(
    number_grammar(),
    strings.map(text),
    st.sampled_from(["true", "false", "null", "[]", "{}", '{"a": [1, {"b": null}]}', "[1, 2]"]),
    st.sampled_from(['"1.5"', '"NaN"', '"Infinity"', '" 7 "', '"\\ud83d\\ude00"', '"a\\u0000b"']),
    st.sampled_from(['"\\ud800"', "1e400", "-1e999", "[" * 1100 + "]" * 1100]),  # orjson refuses
)
crs = st.sampled_from(["wgs84", "gcj02", "bd09", "WGS84", "utm50n", ""]).map(text) | st.just("null")

COMMON = {
    "id": strings.map(text) | st.sampled_from(['"a"', "null", "7"]),
    "ts": ts_values,
    "crs": crs,
    "lat": number(-90.0, 90.0),
    "lon": number(-180.0, 180.0),
}
FIELDS = {
    "camera": {
        **COMMON,
        "kind": st.sampled_from(['"camera"', '"sensor"', "null", '"drone"']),
        "people": number(-1, 1_000_001),
        "area_m2": number(0.0, 1_000_000.0),
        "camera": strings.map(text) | st.just("null"),
        "flow_in": number(0.0, 1e300) | st.just("null"),
        "flow_out": number(-1.0, 100.0) | st.just("null"),
    },
    "sensor": {
        **COMMON,
        "kind": st.sampled_from(['"sensor"', '"camera"', "null"]),
        "type": strings.map(text) | st.just('""'),
        "value": number(-1e308, 1e308),
        "unit": strings.map(text) | st.sampled_from(['""', "null"]),
        "alarm": st.sampled_from(["true", "false", "null", "0", "1", '"true"']),
        "sensor": strings.map(text) | st.just("null"),
    },
}
VALID = {"camera": CAMERA, "sensor": SENSOR}
EXTRA_KEYS = ["meta", "x", "p\u0065ople", "People", "lat "]


def valid_fields(kind: str) -> dict[str, str]:
    return {k: orjson.dumps(v).decode() for k, v in VALID[kind].items()}


def obj(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{text(k)}: {v}" for k, v in pairs) + "}"


@st.composite
def event(draw: st.DrawFn, kind: str) -> str:
    """A JSON object: a valid event of ``kind`` with some fields changed, dropped, added
    twice or given unknown neighbours."""
    fields = valid_fields(kind)
    if draw(st.booleans()):  # the valid values, in other spellings
        fields["lat"] = draw(st.floats(22.0, 24.0).flatmap(spellings))
        fields["lon"] = draw(st.floats(112.0, 114.0).flatmap(spellings))
    pairs = list(fields.items())
    for key in draw(st.lists(st.sampled_from(sorted(FIELDS[kind])), max_size=4)):
        value = draw(FIELDS[kind][key] | anything if draw(st.booleans()) else FIELDS[kind][key])
        if draw(st.integers(0, 4)) == 0:
            pairs.append((key, value))  # a duplicate key: the last one counts
        else:
            pairs = [(k, value if k == key else v) for k, v in pairs] + (
                [] if key in fields else [(key, value)]
            )
    for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2)):
        pairs = [(k, v) for k, v in pairs if k != key]
    for key in draw(st.lists(st.sampled_from(EXTRA_KEYS), max_size=2)):
        pairs.append((key, draw(anything)))
    return obj(draw(st.permutations(pairs)))


@st.composite
def record(draw: st.DrawFn, kind: str) -> bytes:
    """A record value: one event, or an array of events and the odd non-object."""
    item = event(kind) | st.sampled_from(["1", "null", '"x"', "[]", "[{}]"])
    if draw(st.booleans()):
        body = draw(event(kind))
    else:
        body = "[" + ", ".join(draw(st.lists(item, max_size=5))) + "]"
    pad = draw(st.sampled_from(["", " ", "\n\t"]))
    return (pad + body + pad).encode()


ANYTIME = Limits(max_future_ms=2**80, max_age_ms=2**80)  # any ts, however big, is in time
limits = st.sampled_from([LIMITS, LIMITS, ANYTIME, Limits(resolution=0), Limits(resolution=16)])


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(KINDS).flatmap(lambda k: st.tuples(st.just(k), record(k))), limits)
def test_fast_path_equals_pydantic_on_generated_records(
    case: tuple[str, bytes], lim: Limits
) -> None:
    kind, raw = case
    same(kind, raw, lim)
    same("sensor" if kind == "camera" else "camera", raw, lim)  # the other kind's fields


@pytest.mark.parametrize(("kind", "key"), [(k, f) for k in KINDS for f in sorted(FIELDS[k])])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_each_field_alone_at_its_edges(kind: str, key: str, data: st.DataObject) -> None:
    """A valid event with one field changed (or dropped): the field's bounds decide alone.
    Any valid crs, as a datum shift may carry a coordinate just outside its range back in."""
    value = data.draw(FIELDS[kind][key] | st.none(), label=key)
    valid = {**valid_fields(kind), "crs": data.draw(st.sampled_from(['"wgs84"', '"bd09"']))}
    pairs = [(k, v) for k, v in valid.items() if k != key]
    if value is not None:
        pairs.append((key, value))
    good = obj(list(valid_fields(kind).items()))
    for raw in (obj(pairs), f"[{good}, {obj(pairs)}]"):
        for lim in (LIMITS, ANYTIME):
            same(kind, raw.encode(), lim)


@pytest.mark.parametrize("kind", KINDS)
def test_corpus_of_bad_events_gives_the_same_results(kind: str) -> None:
    goods = [good_camera(NOW, n, (23.02, 113.11), "g") for n in range(2)]
    for bad in bad_events(NOW, "f"):
        for value in (bad.event, [bad.event], [goods[0], bad.event, goods[1]]):
            same(kind, orjson.dumps(value))


@pytest.mark.parametrize("kind", KINDS)
def test_corpus_of_bad_records_gives_the_same_results(kind: str) -> None:
    for bad in bad_records(kind, "f"):
        (rejection,) = same(kind, bad.raw).rejections
        assert rejection.error == bad.error
    same(kind, None)


# --- where msgspec and pydantic differ: the fallback must give pydantic's answer --------


def test_pydantic_laxness_is_kept() -> None:
    """Numeric strings and bools pass for floats in pydantic: msgspec refuses, pydantic decides."""
    lax = [{**CAMERA, "area_m2": "90.5"}, {**CAMERA, "lat": True}, {**SENSOR, "value": " 7 "}]
    for event in lax:
        kind = "camera" if "people" in event else "sensor"
        assert same(kind, orjson.dumps(event)).events
        assert same(kind, orjson.dumps([event, event])).indexes == [0, 1]


def test_unknown_fields_are_ignored_and_their_values_still_parsed_as_orjson_does() -> None:
    meta = {"fw": "1.2", "seq": [1, {"a": None}]}
    assert len(same("camera", orjson.dumps([{**CAMERA, "meta": meta}] * 3)).events) == 3
    # msgspec would skip these values; orjson refuses the record
    for value in (b"1e400", b"-1e999", b"1" + b"0" * 400, b"[" * 1100 + b"]" * 1100):
        raw = orjson.dumps(CAMERA)[:-1] + b', "x": ' + value + b"}"
        (rejection,) = same("camera", raw).rejections
        assert rejection.error == "json"


def test_deep_unknown_values_under_a_raised_recursion_limit() -> None:
    """msgspec nests as deep as Python's recursion limit allows, orjson 1024 levels."""
    raw = b'{"id": "c1", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        assert same("camera", raw).rejections[0].error == "json"
    finally:
        sys.setrecursionlimit(before)


def test_integers_beyond_64_bits_are_read_as_orjson_reads_them() -> None:
    """orjson turns them into floats; pydantic's ts is that float, truncated."""
    raw = orjson.dumps(CAMERA).replace(str(NOW).encode(), str(2**64 + 1).encode())
    (ev,) = same("camera", raw, ANYTIME).events
    assert ev.ts == int(float(2**64 + 1)) != 2**64 + 1
    raw = orjson.dumps(SENSOR).replace(b"0.5", b"123456789012345678901234567")
    assert same("sensor", raw).events[0].value == 1.2345678901234568e26


def test_duplicate_keys_the_last_counts() -> None:
    head = orjson.dumps(CAMERA)[:-1]
    assert same("camera", head + b', "people": "x", "people": 7}').events[0].people == 7
    assert same("camera", head + b', "people": 7, "people": "x"}').rejections


def test_time_rejections_and_unplaceable_events_match() -> None:
    late = [{**CAMERA, "id": f"c{i}", "ts": NOW - 2 * DAY_MS} for i in range(3)]
    out = same("camera", orjson.dumps([CAMERA, *late, CAMERA]))
    assert [r.error for r in out.rejections] == ["time"] * 3 and out.indexes == [0, 4]
    out = same("sensor", orjson.dumps(SENSOR), Limits(resolution=16))
    assert out.rejections[0].reason.startswith("cannot place event")


def test_integral_floats_are_no_counts() -> None:
    (rejection,) = same("camera", orjson.dumps({**CAMERA, "people": 5.0})).rejections
    assert rejection.reason.startswith("people")


# --- the fast path is really taken --------------------------------------------------------


def test_valid_records_never_reach_pydantic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bench records, and records with unknown fields, are decided by msgspec alone."""
    everywhere = cameras()
    cams = [c for c in everywhere if c.key == everywhere[0].key]  # records of 500
    values = [v for _, v in records(600, 500, NOW, cams)] + [v for _, v in records(3, 1, NOW)]
    values.append(orjson.dumps([{**CAMERA, "meta": {"fw": 2}}, {**CAMERA, "ts": NOW - 2 * DAY_MS}]))
    expected = [decode_record_pydantic("camera", v, NOW, LIMITS) for v in values]

    def refuse(*args: object) -> None:
        raise AssertionError("pydantic was asked")

    monkeypatch.setattr(streams.pipeline.decode_fast, "decode_event", refuse)
    assert [decode_record("camera", v, NOW, LIMITS) for v in values] == expected
    assert len(expected[0].events) == 500
