"""Demo data for energy (filled in by its issue)."""


def seed(progress=print) -> None:
    progress("  nothing yet")
