"""The shared SVG charts: scales people can read, gaps where data is missing, the same
numbers in a table."""

import pytest
from django.template.loader import render_to_string

from citychain.charts import Series, bar_chart, line_chart, nice_step


@pytest.mark.parametrize(
    ("span", "step"), [(10, 2), (100, 20), (7, 2), (1, 0.2), (12_500, 2_500), (0, 1)]
)
def test_axis_steps_are_round_numbers(span, step):
    assert nice_step(span) == pytest.approx(step)


def test_series_must_match_the_labels():
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        line_chart(["a", "b", "c"], [Series("kWh", [1, 2])], title="t", unit="kWh")


def test_line_chart_scale_covers_every_value_and_zero():
    chart = line_chart(["Mon", "Tue", "Wed"], [Series("Made", [3, 17, 9])], title="t", unit="kWh")
    ticks = [float(t["label"]) for t in chart.y_ticks]
    assert ticks[0] == 0 and ticks[-1] >= 17
    # the highest value is drawn at or below the top tick, the lowest at or above the bottom
    ys = [p["y"] for p in chart.series[0]["points"]]
    assert min(ys) >= chart.y_ticks[-1]["y"] and max(ys) <= chart.y_ticks[0]["y"]
    assert ys[1] < ys[2] < ys[0]  # 17 is highest on the page, 3 lowest


def test_missing_values_break_the_line_instead_of_drawing_zero():
    chart = line_chart(
        ["1", "2", "3", "4"], [Series("Score", [50, None, 60, 62])], title="t", unit="points"
    )
    segments = chart.series[0]["segments"]
    assert len(segments) == 2
    assert len(segments[0].split()) == 1 and len(segments[1].split()) == 2
    assert chart.rows[1]["values"] == [None]


def test_stacked_bars_put_negative_values_below_zero():
    chart = bar_chart(
        ["May", "June"],
        [Series("Paid", [40, 30]), Series("Earned", [-10, -25])],
        title="t",
        unit="$",
        stacked=True,
    )
    assert float(chart.y_ticks[0]["label"].replace(",", "")) <= -25
    paid, earned = chart.series
    for bar in paid["bars"]:
        assert bar["y"] + bar["height"] == pytest.approx(chart.zero_y, abs=0.2)
    for bar in earned["bars"]:
        assert bar["y"] == pytest.approx(chart.zero_y, abs=0.2)


def test_grouped_bars_sit_side_by_side():
    chart = bar_chart(["Mon"], [Series("Bought", [5]), Series("Sold", [3])], title="t", unit="kWh")
    first, second = (s["bars"][0] for s in chart.series)
    assert second["x"] >= first["x"] + first["width"]


def test_long_series_show_a_readable_number_of_axis_labels():
    labels = [f"d{i}" for i in range(96)]
    chart = line_chart(labels, [Series("W", list(range(96)))], title="t", unit="W")
    assert 2 <= len(chart.x_ticks) <= 8
    assert chart.series[0]["points"] == []  # no markers on a dense line


def test_the_include_draws_a_titled_svg_a_legend_and_the_table():
    chart = line_chart(
        ["Mon", "Tue"],
        [Series("Made", [1500, 2500]), Series("Used", [2000, None])],
        title="Energy per day",
        unit="kWh",
    )
    html = render_to_string("includes/chart.html", {"chart": chart})
    assert 'role="img"' in html and "Energy per day" in html
    assert html.count("<polyline") == 2
    assert "<table>" in html and "1,500" in html and "—" in html
    assert 'class="chart-legend"' in html


def test_a_chart_without_data_says_so():
    chart = bar_chart(["Mon"], [Series("Sold", [None])], title="Sold", unit="kWh")
    html = render_to_string("includes/chart.html", {"chart": chart})
    assert "<svg" not in html and "No data for this period yet." in html
