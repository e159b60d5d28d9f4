"""A synthetic but realistic microgrid: rooftop solar and household loads, 15 minutes at a time.

This module owns the demo's physics and nothing else. It imports nothing from Django: the
demo seeder (energy/demo.py) asks it for readings and stores them through the energy
services. Everything is deterministic from a seed: the same seed, homes and dates always
give the same watt-hours, whichever days are asked for and in whatever order, because every
random draw comes from a generator seeded by (seed, what, home, day), never from shared state.

The model, kept simple enough to read in one sitting:

- **Sun.** The solar elevation at each interval's midpoint from the site's latitude and
  longitude, the day's declination and the equation of time (NOAA's low-precision formulas,
  good to a fraction of a degree). Clear-sky output follows the sine of the elevation through
  an air-mass attenuation, so panels make nothing at night, little in winter mornings and the
  most at solar noon in June.
- **Weather.** Each day has a cloud cover between 0 (clear) and 1 (overcast), drawn per date
  and blended with the day before, so cloudy spells last. Clear days are smooth; partly
  cloudy days flicker interval to interval as clouds pass; overcast days keep 15-30 % of
  clear-sky output (diffuse light).
- **Panels.** A home's system has a nameplate in watts; 80 % of nameplate reaches the meter
  at full sun (inverter, wiring, soiling and temperature losses), scaled by a per-home
  orientation factor (roofs do not all face south).
- **Load.** Each home follows one of a few household profiles (working family, retirees,
  home office, small shop): a base load that never stops (refrigerator, standby), morning and
  evening peaks at local clock time, weekends shaped differently, plus electric heating in
  cold weather and air conditioning in hot weather from a seasonal temperature curve, and
  appliance spikes (oven, dryer, kettle) drawn at random.
- **Meter.** A net meter sees, per interval, import = consumption above production and
  export = production above consumption. Both gross and net figures are reported.

All energy is in integer watt-hours.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

INTERVAL = timedelta(minutes=15)
INTERVALS_PER_DAY = 96


@dataclass(frozen=True)
class Site:
    """Where the microgrid is: its coordinates for the sun, its time zone for people's habits."""

    latitude: float = 41.88  # Chicago
    longitude: float = -87.63
    timezone: str = "America/Chicago"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


CHICAGO = Site()


@dataclass(frozen=True)
class Profile:
    """A household's habits: what it draws, in watts, at local clock time."""

    key: str
    base_w: int  # always on
    morning_w: int  # extra draw around the morning peak
    morning_hour: float
    daytime_w: int  # extra draw while people are home during the day
    evening_w: int  # extra draw around the evening peak
    evening_hour: float
    weekend_daytime_w: int
    spikes_per_day: float  # oven, dryer, kettle, dishwasher
    opening: tuple[float, float] | None = None  # a shop's hours: it draws daytime_w then


PROFILES: dict[str, Profile] = {
    p.key: p
    for p in (
        Profile("working_family", 280, 1300, 7.0, 250, 1900, 18.75, 900, 3.0),
        Profile("retirees", 240, 700, 8.5, 650, 1100, 17.5, 650, 2.0),
        Profile("home_office", 260, 800, 7.5, 800, 1400, 19.0, 700, 2.5),
        Profile("single", 180, 600, 7.0, 120, 1100, 20.0, 400, 1.5),
        Profile("small_shop", 450, 300, 8.0, 1900, 300, 18.0, 1000, 1.0, (9.0, 18.0)),
    )
}


@dataclass(frozen=True)
class Home:
    """One member of the synthetic microgrid."""

    number: int  # 1-based, stable: the demo names members by it
    profile: str
    size: float  # load scale: bigger homes draw more (about 0.7-1.4)
    solar_w: int  # nameplate of the rooftop system, 0 when it has none
    orientation: float  # share of a south-facing array's output (about 0.75-1.0)
    electric_heat: bool
    air_conditioning: bool

    @property
    def has_solar(self) -> bool:
        return self.solar_w > 0


@dataclass(frozen=True)
class Reading:
    """One home's 15 minutes: gross production and consumption and what the net meter sees."""

    home: int
    start: datetime  # UTC, on a quarter hour
    production_wh: int
    consumption_wh: int

    @property
    def import_wh(self) -> int:
        return max(self.consumption_wh - self.production_wh, 0)

    @property
    def export_wh(self) -> int:
        return max(self.production_wh - self.consumption_wh, 0)

    @property
    def net_wh(self) -> int:
        """Import minus export, the market's sign convention: positive buys, negative sells."""
        return self.consumption_wh - self.production_wh


def _rng(seed: int | str, *parts: object) -> random.Random:
    # A str seed is hashed with SHA-512 by random.seed (version 2): stable across runs and
    # processes, unlike hash(), which PYTHONHASHSEED randomizes.
    return random.Random(":".join(str(p) for p in (seed, *parts)))  # noqa: S311 - a model, not a secret


# --- the homes -------------------------------------------------------------------------

_PROFILE_WEIGHTS = (
    ("working_family", 0.36),
    ("retirees", 0.2),
    ("home_office", 0.2),
    ("single", 0.16),
    ("small_shop", 0.08),
)


def make_homes(count: int = 50, *, with_solar: int = 20, seed: int | str = 0) -> list[Home]:
    """`count` homes, exactly `with_solar` of them (spread through the list) with rooftop solar."""
    if count < 0 or not 0 <= with_solar <= count:
        raise ValueError(f"need 0 <= with_solar <= count, got {with_solar} of {count}")
    rng = _rng(seed, "homes", count)
    solar = set(rng.sample(range(count), with_solar))
    keys = [k for k, _w in _PROFILE_WEIGHTS]
    weights = [w for _k, w in _PROFILE_WEIGHTS]
    homes = []
    for i in range(count):
        profile = rng.choices(keys, weights)[0]
        size = round(rng.uniform(0.7, 1.4), 2)
        # Residential systems are 4-10 kW; a bigger home tends to have a bigger roof.
        solar_w = (
            int(round(rng.uniform(4_000, 8_000) * (0.8 + 0.2 * size), -2)) if i in solar else 0
        )
        homes.append(
            Home(
                number=i + 1,
                profile=profile,
                size=size,
                solar_w=solar_w,
                orientation=round(rng.uniform(0.75, 1.0), 2),
                electric_heat=rng.random() < 0.3,
                air_conditioning=rng.random() < 0.85,
            )
        )
    return homes


# --- the sun ---------------------------------------------------------------------------


def _fractional_year(at: datetime) -> float:
    start = datetime(at.year, 1, 1, tzinfo=UTC)
    days_in_year = 366 if at.year % 4 == 0 and (at.year % 100 or at.year % 400 == 0) else 365
    day = (at - start).total_seconds() / 86_400
    return 2 * math.pi * day / days_in_year


def sun_elevation(at: datetime, site: Site = CHICAGO) -> float:
    """The sun's elevation above the horizon in degrees (negative at night), at UTC `at`."""
    if at.tzinfo is None:
        raise ValueError("sun_elevation needs an aware datetime")
    at = at.astimezone(UTC)
    g = _fractional_year(at)
    # NOAA General Solar Position Calculations.
    eq_time = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    minutes = at.hour * 60 + at.minute + at.second / 60
    solar_minutes = minutes + eq_time + 4 * site.longitude
    hour_angle = math.radians(solar_minutes / 4 - 180)
    lat = math.radians(site.latitude)
    cos_zenith = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(
        hour_angle
    )
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def clear_sky_fraction(at: datetime, site: Site = CHICAGO) -> float:
    """Output of an ideal array as a share of its nameplate under a clear sky (0 at night)."""
    elevation = sun_elevation(at, site)
    if elevation <= 0:
        return 0.0
    sin_e = math.sin(math.radians(elevation))
    # Kasten-Young air mass, Meinel's attenuation: a low sun crosses more atmosphere.
    air_mass = 1 / (sin_e + 0.50572 * (elevation + 6.07995) ** -1.6364)
    direct = 0.7 ** (air_mass**0.678)
    # A tilted roof catches a low sun better than a flat plate: lift the low elevations.
    return min(1.0, 1.1 * direct * sin_e**0.7)


# --- weather ---------------------------------------------------------------------------


def _raw_cloud(seed: int | str, day: date) -> float:
    rng = _rng(seed, "cloud", day.isoformat())
    # Clear and overcast days are common, in-between days less so (a U-shaped draw).
    return rng.betavariate(0.6, 0.6)


def cloud_cover(day: date, seed: int | str = 0) -> float:
    """The day's cloud cover, 0 (clear) to 1 (overcast): weather lasts, so half is yesterday's."""
    return round(0.55 * _raw_cloud(seed, day) + 0.45 * _raw_cloud(seed, day - timedelta(days=1)), 3)


def sky_kind(cover: float) -> str:
    """A name for a day's cloud cover: "clear", "partly cloudy" or "overcast"."""
    if cover < 0.3:
        return "clear"
    if cover < 0.7:
        return "partly cloudy"
    return "overcast"


def _cloud_factor(cover: float, rng: random.Random) -> float:
    """This interval's share of clear-sky output on a day with `cover`."""
    if cover >= 0.7:
        return rng.uniform(0.15, 0.3)  # diffuse light only
    if cover < 0.3:
        return 1.0 - 0.3 * cover * rng.random()
    # Partly cloudy: sun and cloud take turns; the cloudier, the more often a cloud passes.
    if rng.random() < cover:
        return rng.uniform(0.2, 0.5)
    return rng.uniform(0.85, 1.05)  # edge-of-cloud brightening can beat clear sky briefly


# --- temperature and load --------------------------------------------------------------


def outdoor_temperature(local: datetime) -> float:
    """A Chicago-like temperature in °C: seasonal mean plus a daily swing peaking mid-afternoon."""
    doy = local.timetuple().tm_yday
    seasonal = 10.5 + 13.5 * math.cos(2 * math.pi * (doy - 200) / 365.25)
    hour = local.hour + local.minute / 60
    daily = 5.0 * math.cos(2 * math.pi * (hour - 15) / 24)
    return seasonal + daily


def _bump(hour: float, centre: float, width: float) -> float:
    """A smooth peak of height 1 at `centre` with about `width` hours each side."""
    distance = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-0.5 * (distance / width) ** 2)


def load_w(home: Home, local: datetime, rng: random.Random) -> float:
    """A home's average draw in watts over the 15 minutes from local time `local`."""
    p = PROFILES[home.profile]
    hour = local.hour + local.minute / 60
    weekend = local.weekday() >= 5
    watts = float(p.base_w)
    if p.opening:
        opens, closes = p.opening
        open_today = local.weekday() < 6  # the shop closes on Sundays
        if open_today and opens <= hour < closes:
            watts += p.weekend_daytime_w if weekend else p.daytime_w
    else:
        morning = p.morning_hour + (1.5 if weekend else 0.0)
        watts += p.morning_w * _bump(hour, morning, 1.0)
        daytime = p.weekend_daytime_w if weekend else p.daytime_w
        watts += daytime * _bump(hour, 13.0, 3.0)
        watts += p.evening_w * _bump(hour, p.evening_hour, 1.6)
        if hour < 6 or hour >= 23:
            watts *= 0.85  # asleep
    temp = outdoor_temperature(local)
    if home.electric_heat and temp < 12:
        watts += 110 * (12 - temp)
    if home.air_conditioning and temp > 24:
        watts += 230 * (temp - 24)
    if rng.random() < p.spikes_per_day / INTERVALS_PER_DAY * (2.0 if 7 <= hour < 22 else 0.3):
        watts += rng.uniform(1_500, 4_000)  # an oven, a dryer, a kettle
    return max(watts * home.size * rng.uniform(0.85, 1.15), 60.0)


# --- readings --------------------------------------------------------------------------


def _quarter_hour(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("readings need an aware datetime")
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def home_day(home: Home, day: date, *, seed: int | str = 0, site: Site = CHICAGO) -> list[Reading]:
    """One home's readings for a local calendar day: 96 intervals (92 or 100 on DST days)."""
    zone = site.zone
    start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).astimezone(UTC)
    load_rng = _rng(seed, "load", home.number, day.isoformat())
    sun_rng = _rng(seed, "sun", home.number, day.isoformat())
    cover = cloud_cover(day, seed)
    readings = []
    at = start
    while at < end:
        middle = at + INTERVAL / 2
        local = at.astimezone(zone)
        consumption = load_w(home, local, load_rng) / 4
        production = 0.0
        if home.solar_w:
            factor = _cloud_factor(cover, sun_rng)
            production = (
                home.solar_w
                * 0.8
                * home.orientation
                * clear_sky_fraction(middle, site)
                * factor
                / 4
            )
        readings.append(Reading(home.number, at, round(production), round(consumption)))
        at += INTERVAL
    return readings


def readings(
    homes: Iterable[Home],
    *,
    start: datetime,
    end: datetime,
    seed: int | str = 0,
    site: Site = CHICAGO,
) -> Iterator[Reading]:
    """Every home's readings for the quarter hours from `start` up to `end` (UTC, aware),
    interval by interval, homes in order within each interval."""
    start, end = _quarter_hour(start), _quarter_hour(end)
    homes = list(homes)
    zone = site.zone
    first_day = start.astimezone(zone).date()
    last_day = (end - INTERVAL).astimezone(zone).date() if end > start else first_day
    by_start: dict[datetime, list[Reading]] = {}
    day = first_day
    while day <= last_day:
        for home in homes:
            for r in home_day(home, day, seed=seed, site=site):
                if start <= r.start < end:
                    by_start.setdefault(r.start, []).append(r)
        day += timedelta(days=1)
    for at in sorted(by_start):
        yield from by_start[at]
