"""The demo's synthetic microgrid: physically sensible, and the same numbers from the same seed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from energy import synthetic
from energy.synthetic import CHICAGO, Home, Site


def solar_home(**changes) -> Home:
    fields = dict(
        number=1,
        profile="working_family",
        size=1.0,
        solar_w=6_000,
        orientation=1.0,
        electric_heat=False,
        air_conditioning=False,
    )
    fields.update(changes)
    return Home(**fields)


def clear_day(start: date, *, seed=0) -> date:
    """The first clear day from `start` on for this seed (the model has plenty)."""
    day = start
    while synthetic.sky_kind(synthetic.cloud_cover(day, seed)) != "clear":
        day += timedelta(days=1)
    return day


def overcast_day(start: date, *, seed=0) -> date:
    day = start
    while synthetic.sky_kind(synthetic.cloud_cover(day, seed)) != "overcast":
        day += timedelta(days=1)
    return day


def test_homes_have_the_requested_number_with_solar_and_are_stable():
    homes = synthetic.make_homes(50, with_solar=20, seed=3)
    assert len(homes) == 50
    assert sum(h.has_solar for h in homes) == 20
    assert [h.number for h in homes] == list(range(1, 51))
    assert all(4_000 * 0.8 <= h.solar_w <= 8_000 * 1.2 for h in homes if h.has_solar)
    assert homes == synthetic.make_homes(50, with_solar=20, seed=3)
    assert homes != synthetic.make_homes(50, with_solar=20, seed=4)
    assert len({h.profile for h in homes}) >= 3  # a mix of households


def test_more_solar_homes_than_homes_is_refused():
    with pytest.raises(ValueError, match="with_solar"):
        synthetic.make_homes(3, with_solar=4)


def test_the_sun_is_highest_at_solar_noon_and_higher_in_june_than_december():
    # Chicago's solar noon is about 17:50 UTC; the sun is up about 73° in June, 25° in December.
    june = synthetic.sun_elevation(datetime(2026, 6, 21, 17, 50, tzinfo=UTC))
    december = synthetic.sun_elevation(datetime(2026, 12, 21, 17, 50, tzinfo=UTC))
    assert 70 < june < 74
    assert 23 < december < 27
    assert synthetic.sun_elevation(datetime(2026, 6, 21, 6, 0, tzinfo=UTC)) < 0  # 1 am local


def test_panels_make_nothing_at_night_and_most_around_noon():
    home = solar_home()
    day = clear_day(date(2026, 6, 10))
    readings = synthetic.home_day(home, day)
    assert len(readings) == 96
    local = [(r.start.astimezone(CHICAGO.zone).hour, r.production_wh) for r in readings]
    assert all(wh == 0 for hour, wh in local if hour < 4 or hour >= 21)
    peak_hour = max(local, key=lambda pair: pair[1])[0]
    assert 11 <= peak_hour <= 14  # daylight saving: solar noon is near 1 pm
    # A clear June day: about 4-5.5 kWh per installed kW in Chicago.
    total_kwh = sum(r.production_wh for r in readings) / 1000
    assert 4 * 6 <= total_kwh <= 5.5 * 6


def test_summer_beats_winter_and_clear_beats_overcast():
    home = solar_home()

    def kwh(day):
        return sum(r.production_wh for r in synthetic.home_day(home, day)) / 1000

    june_clear, december_clear = kwh(clear_day(date(2026, 6, 1))), kwh(clear_day(date(2026, 12, 1)))
    assert june_clear > 2.5 * december_clear > 0
    june_overcast = kwh(overcast_day(date(2026, 6, 1)))
    assert june_overcast < 0.35 * june_clear


def test_a_home_without_panels_produces_nothing():
    readings = synthetic.home_day(solar_home(solar_w=0), date(2026, 6, 21))
    assert all(r.production_wh == 0 for r in readings)
    assert all(r.export_wh == 0 and r.import_wh == r.consumption_wh for r in readings)


def test_household_load_is_plausible_and_peaks_in_the_evening():
    homes = synthetic.make_homes(40, with_solar=0, seed=1)
    day = date(2026, 10, 14)  # a Wednesday in mild weather
    by_hour = [0] * 24
    total = 0
    for home in homes:
        for r in synthetic.home_day(home, day, seed=1):
            by_hour[r.start.astimezone(CHICAGO.zone).hour] += r.consumption_wh
            total += r.consumption_wh
    per_home_kwh = total / 1000 / len(homes)
    assert 12 <= per_home_kwh <= 40  # US homes use about 29 kWh a day on average
    assert max(range(24), key=by_hour.__getitem__) in range(17, 22)
    assert by_hour[3] < 0.5 * max(by_hour)  # the night is quiet


def test_air_conditioning_and_electric_heat_follow_the_season():
    cooled = solar_home(solar_w=0, air_conditioning=True)
    plain = solar_home(solar_w=0)
    heated = solar_home(solar_w=0, electric_heat=True)

    def kwh(home, day):
        return sum(r.consumption_wh for r in synthetic.home_day(home, day)) / 1000

    assert kwh(cooled, date(2026, 7, 20)) > kwh(plain, date(2026, 7, 20)) + 3
    assert kwh(heated, date(2026, 1, 20)) > kwh(plain, date(2026, 1, 20)) + 5


def test_daylight_saving_days_have_92_and_100_intervals():
    home = solar_home()
    assert len(synthetic.home_day(home, date(2026, 3, 8))) == 92
    assert len(synthetic.home_day(home, date(2026, 11, 1))) == 100
    starts = [r.start for r in synthetic.home_day(home, date(2026, 11, 1))]
    assert all(b - a == timedelta(minutes=15) for a, b in pairwise(starts))


def test_readings_cover_each_interval_once_per_home_in_order():
    homes = synthetic.make_homes(5, with_solar=2, seed=9)
    start = datetime(2026, 11, 19, 6, 0, tzinfo=UTC)
    end = start + timedelta(days=2)
    readings = list(synthetic.readings(homes, start=start, end=end, seed=9))
    assert len(readings) == 5 * 2 * 96
    keys = [(r.start, r.home) for r in readings]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert readings[0].start == start and readings[-1].start == end - timedelta(minutes=15)


def test_the_same_seed_gives_the_same_watt_hours_whatever_range_is_asked_for():
    homes = synthetic.make_homes(4, with_solar=2, seed=5)
    start = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
    week = list(synthetic.readings(homes, start=start, end=start + timedelta(days=7), seed=5))
    later = start + timedelta(days=3, hours=5)
    part = list(synthetic.readings(homes, start=later, end=later + timedelta(hours=6), seed=5))
    assert part == [r for r in week if later <= r.start < later + timedelta(hours=6)]
    other = list(synthetic.readings(homes, start=start, end=start + timedelta(days=7), seed=6))
    assert other != week


@given(
    production=st.integers(min_value=0, max_value=10_000),
    consumption=st.integers(min_value=0, max_value=10_000),
)
def test_the_net_meter_sees_import_or_export_never_both(production, consumption):
    r = synthetic.Reading(1, datetime(2026, 1, 1, tzinfo=UTC), production, consumption)
    assert r.import_wh >= 0 and r.export_wh >= 0
    assert r.import_wh == 0 or r.export_wh == 0
    assert r.import_wh - r.export_wh == r.net_wh == consumption - production


def test_another_site_moves_the_sun():
    # Same clock instant: the sun is higher in Phoenix than in Chicago at Phoenix's noon.
    phoenix = Site(latitude=33.45, longitude=-112.07, timezone="America/Phoenix")
    at = datetime(2026, 12, 21, 19, 30, tzinfo=UTC)
    assert synthetic.sun_elevation(at, phoenix) > synthetic.sun_elevation(at, CHICAGO) + 5


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        synthetic.sun_elevation(datetime(2026, 6, 21, 12, 0))
    with pytest.raises(ValueError, match="aware"):
        list(synthetic.readings([], start=datetime(2026, 6, 21), end=datetime(2026, 6, 22)))
