"""The tray icon as a pure function of the state (SPEC §7): one look per state, told apart without colour,
and a ring that shows the time left. No display needed."""

from __future__ import annotations

import functools
import itertools
import math
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw

from conftest import ROOT
from tray.core.engine.state import (
    ERROR,
    EXPIRED,
    EXPIRING,
    SIGNED_OUT,
    SIGNING_IN,
    VALID,
    SessionView,
    State,
)
from tray.ui import icons

KINDS = (SIGNED_OUT, VALID, EXPIRING, EXPIRED, SIGNING_IN, ERROR)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
HOURS_8 = timedelta(hours=8)


def share_differing(a: Image.Image, b: Image.Image, threshold: int = 32) -> float:
    """The share of pixels where any band of a and b differs by more than threshold."""
    bands = ImageChops.difference(a, b).split()
    per_pixel = functools.reduce(ImageChops.lighter, bands)
    return sum(per_pixel.histogram()[threshold + 1:]) / (a.width * a.height)


def silhouette(image: Image.Image) -> Image.Image:
    return image.getchannel("A").point(lambda a: 255 if a > 128 else 0)


def on_white(image: Image.Image) -> Image.Image:
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    background.alpha_composite(image)
    return background.convert("L")


def ring_pixels(image: Image.Image) -> int:
    """Opaque pixels well inside the ring's annulus (one pixel clear of its anti-aliased edges)."""
    size = image.width
    alpha = image.getchannel("A").load()
    inner, outer = icons.RING_INNER * size + 1, icons.RING_OUTER * size - 1
    count = 0
    for y in range(size):
        for x in range(size):
            if inner <= math.hypot(x + 0.5 - size / 2, y + 0.5 - size / 2) <= outer and alpha[x, y] > 128:
                count += 1
    return count


def ring_alpha_at(image: Image.Image, clock_degrees: float) -> int:
    """Alpha at the middle of the ring, `clock_degrees` clockwise from 12 o'clock."""
    size = image.width
    radius = (icons.RING_INNER + icons.RING_OUTER) / 2 * size
    x = size / 2 + radius * math.sin(math.radians(clock_degrees))
    y = size / 2 - radius * math.cos(math.radians(clock_degrees))
    return image.getpixel((int(x), int(y)))[3]


@pytest.mark.parametrize("size", [16, 22, 24, 32, 64])
@pytest.mark.parametrize("kind", KINDS)
def test_every_state_renders_at_every_tray_size(kind, size):
    image = icons.render(kind, 0.5, size)
    assert image.size == (size, size)
    assert image.mode == "RGBA"
    alpha = image.getchannel("A")
    assert alpha.getextrema()[1] == 255
    assert image.getpixel((0, 0))[3] == 0, "the background is transparent"
    assert sum(alpha.histogram()[129:]) > size * size * 0.15, "the icon fills a good part of its square"


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.5, 1.0])
def test_states_differ_in_colour_in_grey_and_in_silhouette(fraction):
    renders = {kind: icons.render(kind, fraction, 32) for kind in KINDS}
    for a, b in itertools.combinations(KINDS, 2):
        assert share_differing(renders[a], renders[b]) > 0.05, (a, b)
        assert share_differing(on_white(renders[a]), on_white(renders[b])) > 0.05, (a, b, "grey")
        assert share_differing(silhouette(renders[a]), silhouette(renders[b])) > 0.03, (a, b, "silhouette")


@pytest.mark.parametrize("kind", [VALID, EXPIRING])
def test_ring_is_proportional_to_time_left(kind):
    full = ring_pixels(icons.render(kind, 1.0, 128))
    inner, outer = icons.RING_INNER * 128 + 1, icons.RING_OUTER * 128 - 1
    assert full > 0.9 * math.pi * (outer**2 - inner**2), "a full ring is a full annulus"
    for fraction in (0.1, 0.25, 0.5, 0.75):
        ratio = ring_pixels(icons.render(kind, fraction, 128)) / full
        assert ratio == pytest.approx(fraction, rel=0.05), fraction
    assert ring_pixels(icons.render(kind, 0.0, 128)) == 0


def test_ring_starts_at_twelve_and_runs_clockwise():
    quarter = icons.render(VALID, 0.25, 128)
    assert ring_alpha_at(quarter, 10) > 200  # just past 12
    assert ring_alpha_at(quarter, 45) > 200  # half past one
    assert ring_alpha_at(quarter, 135) < 128  # half past four
    assert ring_alpha_at(quarter, 315) < 128  # half past ten
    three_quarters = icons.render(VALID, 0.75, 128)
    assert ring_alpha_at(three_quarters, 225) > 200  # half past seven
    assert ring_alpha_at(three_quarters, 315) < 128


@pytest.mark.parametrize("kind", [SIGNED_OUT, EXPIRED, SIGNING_IN, ERROR])
def test_states_without_time_ignore_the_fraction(kind):
    assert icons.render(kind, 0.0, 32).tobytes() == icons.render(kind, 0.8, 32).tobytes()


def test_renders_are_cached_by_sixtieths():
    assert icons.render(VALID, 0.5, 32) is icons.render(VALID, 0.5 + 1 / 200, 32)
    assert icons.render(VALID, 0.5, 32) is not icons.render(VALID, 0.5 + 1 / 60, 32)
    assert icons.render(VALID, 1.7, 32) is icons.render(VALID, 1.0, 32)
    assert icons.render(VALID, -1, 32) is icons.render(VALID, 0.0, 32)
    assert icons.render(VALID, 0.001, 32) is icons.render(VALID, 1 / 60, 32), "time left shows in the ring"


def test_unknown_state_is_refused():
    with pytest.raises(ValueError):
        icons.render("sleepy", 0.5, 32)


def session(name: str, state: str, left: timedelta | None = None, lifetime: timedelta = HOURS_8) -> SessionView:
    expires_at = None if left is None else NOW + left
    return SessionView(name=name, state=state, expires_at=expires_at, lifetime=lifetime if left is not None else None)


def test_icon_image_speaks_for_the_most_urgent_session():
    calm = session("work", VALID, left=timedelta(hours=6))
    soon = session("lab", EXPIRING, left=timedelta(minutes=12))
    state = State(now=NOW, sessions=(calm, soon))
    expected = icons.render(EXPIRING, soon.fraction_left(NOW), 64)
    assert icons.icon_image(state).tobytes() == expected.tobytes()
    assert icons.icon_image(state, 22).size == (22, 22)


def test_icon_image_among_valid_sessions_shows_the_one_ending_first():
    state = State(now=NOW, sessions=(session("a", VALID, timedelta(hours=6)), session("b", VALID, timedelta(hours=2))))
    assert icons.icon_image(state).tobytes() == icons.render(VALID, 2 / 8, 64).tobytes()
    assert icons.icon_image(state).tobytes() != icons.render(VALID, 6 / 8, 64).tobytes()


def test_icon_image_without_sessions_or_with_a_problem():
    assert icons.icon_image(State(now=NOW)).tobytes() == icons.render(SIGNED_OUT, 0, 64).tobytes()
    signed_out = State(now=NOW, sessions=(session("work", SIGNED_OUT),))
    assert icons.icon_image(signed_out).tobytes() == icons.render(SIGNED_OUT, 0, 64).tobytes()
    broken = State(now=NOW, sessions=(session("work", VALID, timedelta(hours=1)),), problem="bad config")
    assert icons.icon_image(broken).tobytes() == icons.render(ERROR, 0, 64).tobytes()
    signing_in = State(now=NOW, sessions=(session("work", VALID, timedelta(hours=1)), session("lab", SIGNING_IN)))
    assert icons.icon_image(signing_in).tobytes() == icons.render(SIGNING_IN, 0, 64).tobytes()


def test_rendering_is_fast():
    icons._render.cache_clear()
    jobs = [(kind, step) for step in range(icons.STEPS + 1) for kind in (VALID, EXPIRING)]
    jobs += [(kind, 0) for kind in (SIGNED_OUT, EXPIRED, SIGNING_IN, ERROR)]
    jobs = (jobs * 2)[:200]
    started = time.perf_counter()
    for i, (kind, step) in enumerate(jobs):
        icons.render(kind, step / icons.STEPS, 64 if i < len(jobs) / 2 else 63)  # 200 distinct renders
    elapsed = time.perf_counter() - started
    assert icons._render.cache_info().misses == 200
    assert elapsed < 4.0
    started = time.perf_counter()
    for _ in range(1000):
        icons.render(VALID, 0.5, 64)
    assert time.perf_counter() - started < 0.5, "a cached render is free"


def test_platform_sizes_and_tray_size():
    assert icons.PLATFORM_SIZES["linux"] == (22, 24, 32, 48, 64)
    assert icons.PLATFORM_SIZES["darwin"] == (22, 44)
    assert icons.PLATFORM_SIZES["win32"] == (16, 20, 24, 32, 48, 64, 256)
    assert icons.tray_size("linux") == 64
    assert icons.tray_size("darwin") == 44  # the bar at 2x: tray.ui.macmenu makes the 22-pt template of it
    assert icons.tray_size("win32") == 32
    for platform in ("linux", "darwin", "win32"):
        assert icons.tray_size(platform) in icons.PLATFORM_SIZES[platform]
    assert icons.tray_size() > 0
    for platform, sizes in icons.PLATFORM_SIZES.items():
        for size in sizes:
            assert icons.render(VALID, 0.5, size).size == (size, size)


def test_app_icon_and_the_hicolor_tree(tmp_path):
    for size in (16, 48, 512):
        image = icons.app_icon(size)
        assert image.size == (size, size) and image.mode == "RGBA"
    image = icons.app_icon(64)
    image.putpixel((32, 32), (1, 2, 3, 4))
    assert icons.app_icon(64).getpixel((32, 32)) != (1, 2, 3, 4), "callers get their own copy"
    written = icons.save_app_icons(tmp_path / "hicolor")
    assert [p.relative_to(tmp_path / "hicolor").as_posix() for p in written] == [
        f"{n}x{n}/apps/sso-tray.png" for n in (16, 22, 24, 32, 48, 64, 128, 256, 512)
    ]
    for path in written:
        with Image.open(path) as png:
            assert png.format == "PNG" and png.mode == "RGBA"
            assert png.size == (int(path.parent.parent.name.split("x")[0]),) * 2


def draw_svg(path: Path, size: int) -> Image.Image:
    """Rasterise the logo's SVG: it uses only rect and circle with flat fills, which ImageDraw draws."""
    svg = "{http://www.w3.org/2000/svg}"
    root = ET.parse(path).getroot()
    assert root.get("viewBox") == "0 0 512 512"
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    k = size / 512

    def walk(element, fill):
        fill = element.get("fill", fill)
        num = lambda name: float(element.get(name, 0)) * k  # noqa: E731
        if element.tag == svg + "rect":
            box = [num("x"), num("y"), num("x") + num("width"), num("y") + num("height")]
            draw.rounded_rectangle(box, radius=num("rx"), fill=fill)
        elif element.tag == svg + "circle":
            cx, cy, r = num("cx"), num("cy"), num("r")
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        for child in element:
            walk(child, fill)

    walk(root, None)
    return image


def test_the_logo_svg_draws_what_app_icon_draws():
    svg = ROOT / "assets" / "sso-tray.svg"
    assert share_differing(draw_svg(svg, 512), icons.app_icon(512)) < 0.02
    assert (ROOT / "assets" / "README.md").is_file()


def test_ui_imports_no_boto3_and_only_the_state_from_core():
    code = "import sys, tray.ui.icons; print(' '.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = run.stdout.split()
    assert not [m for m in loaded if m.startswith(("boto3", "botocore"))]
    # the engine room's package docstring comes with it; nothing else of tray.core does
    assert [m for m in loaded if m.startswith("tray.core.")] == ["tray.core.engine", "tray.core.engine.state"]


# --- seen by people: panels, sizes, colour vision -------------------------------------------------------

PANELS = {"dark": (32, 32, 32), "light": (246, 245, 244)}  # a dark GNOME/KDE top bar, a light Xfce/MATE panel
# Machado, Oliveira & Fernandes (2009), "A Physiologically-based Model for Simulation of Color Vision
# Deficiency", severity 1.0, applied to linear RGB
VISIONS = {
    "normal": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
}
MIN_BETWEEN_STATES = 20  # CIELAB ΔE between two states' painted pixels: clearly different at a glance
MIN_AGAINST_PANEL = 25


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _lab(rgb_linear) -> tuple[float, float, float]:
    """CIELAB (D65) of a linear-RGB colour."""
    r, g, b = rgb_linear
    xyz = ((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b,
           (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883)
    fx, fy, fz = (t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


@functools.lru_cache(maxsize=None)
def seen_colour(rgb: tuple[int, int, int], vision: str) -> tuple[float, float, float]:
    """The CIELAB colour a person with `vision` sees for an sRGB colour."""
    linear = [_linear(c) for c in rgb]
    simulated = (max(0.0, min(1.0, sum(m * v for m, v in zip(row, linear)))) for row in VISIONS[vision])
    return _lab(tuple(simulated))


def as_seen(image: Image.Image, panel: tuple[int, int, int], vision: str):
    """(mean CIELAB colour of the icon's painted pixels, how loud it is): the icon on `panel` as a person
    with `vision` sees it. Loudness is the mean ΔE of the whole square from the bare panel: how much of
    the panel the icon changes, and how strongly."""
    tile = Image.new("RGBA", image.size, (*panel, 255))
    tile.alpha_composite(image)
    raw = tile.tobytes()
    pixels = [seen_colour(tuple(raw[i:i + 3]), vision) for i in range(0, len(raw), 4)]
    painted = [p for p, a in zip(pixels, image.getchannel("A").tobytes()) if a > 128]
    bare = seen_colour(panel, vision)
    return tuple(sum(c) / len(painted) for c in zip(*painted)), sum(math.dist(p, bare) for p in pixels) / len(pixels)


@pytest.mark.parametrize("fractions", [{VALID: 1.0, EXPIRING: 0.5}, {VALID: 0.1, EXPIRING: 0.05}])
@pytest.mark.parametrize("vision", list(VISIONS))
@pytest.mark.parametrize("panel", list(PANELS))
@pytest.mark.parametrize("size", [16, 22])
def test_every_two_states_differ_on_dark_and_light_panels_for_every_colour_vision(size, panel, vision, fractions):
    seen = {kind: as_seen(icons.render(kind, fractions.get(kind, 0.0), size), PANELS[panel], vision) for kind in KINDS}
    bare = seen_colour(PANELS[panel], vision)
    for kind, (colour, _loudness) in seen.items():
        assert math.dist(colour, bare) >= MIN_AGAINST_PANEL, (kind, "against the panel", math.dist(colour, bare))
    for a, b in itertools.combinations(KINDS, 2):
        difference = math.dist(seen[a][0], seen[b][0])
        assert difference >= MIN_BETWEEN_STATES, (a, b, round(difference, 1))
    loudness = {kind: loud for kind, (_colour, loud) in seen.items()}
    calm = (SIGNED_OUT, ERROR) if vision != "normal" else tuple(k for k in KINDS if k != EXPIRED)
    # expired is the loudest state: of all of them as most people see colour; with red seen dark (protanopia),
    # still louder than the calm ones, and always the largest shape
    assert all(loudness[EXPIRED] > loudness[k] for k in calm), loudness
    areas = {kind: sum(silhouette(icons.render(kind, fractions.get(kind, 0.0), size)).histogram()[255:]) for kind in KINDS}
    assert max(areas, key=areas.get) == EXPIRED, areas


def test_contact_sheet():
    """Writes artifacts/icons.png to look at: every state at 64 and 22 px on a light and a dark panel, the
    22 px ones again magnified 3× to see their pixels, and the ring of a valid session running down."""
    cell = 72
    fractions = {VALID: 0.7, EXPIRING: 0.05}
    backgrounds = ((246, 246, 246, 255), (40, 40, 40, 255))
    views = (
        lambda kind, fraction: icons.render(kind, fraction, 64),
        lambda kind, fraction: icons.render(kind, fraction, 22),
        lambda kind, fraction: icons.render(kind, fraction, 22).resize((66, 66), Image.Resampling.NEAREST),
    )
    every_state = [(kind, fractions.get(kind, 0.0)) for kind in KINDS]
    rows = [(background, view, every_state) for background in backgrounds for view in views]
    rows.append((backgrounds[0], views[0], [(VALID, f) for f in (1.0, 0.75, 0.5, 0.25, 0.1, 0.0)]))
    sheet = Image.new("RGBA", (cell * len(KINDS), cell * len(rows)), (128, 128, 128, 255))
    for row, (background, view, icons_in_row) in enumerate(rows):
        for column, (kind, fraction) in enumerate(icons_in_row):
            tile = Image.new("RGBA", (cell, cell), background)
            image = view(kind, fraction)
            tile.alpha_composite(image, ((cell - image.width) // 2, (cell - image.height) // 2))
            sheet.paste(tile, (column * cell, row * cell))
    out = ROOT / "artifacts" / "icons.png"
    out.parent.mkdir(exist_ok=True)
    sheet.save(out)
    assert out.stat().st_size > 0


def test_readme_icon_pictures():
    """Writes artifacts/screenshots/icon-STATE.png, the README's pictures (copies in docs/screenshots/): each
    state as a 24 px panel shows it, with a valid session's ring at 70 % and an expiring one's at 5 %,
    magnified 4× to see its pixels."""
    fractions = {VALID: 0.7, EXPIRING: 0.05}
    out = ROOT / "artifacts" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        tile = Image.new("RGBA", (38, 32), (219, 219, 219, 255))
        tile.alpha_composite(icons.render(kind, fractions.get(kind, 0.0), 24), (7, 4))
        path = out / f"icon-{kind.replace('_', '-')}.png"
        tile.convert("RGB").resize((152, 128), Image.Resampling.NEAREST).save(path)
        assert Image.open(path).size == (152, 128)


@pytest.mark.parametrize("kind", [VALID, EXPIRING, EXPIRED])
def test_the_error_badge_keeps_the_state_s_look(kind):
    """A failing session keeps its own icon (its urgency) with a badge in a corner: most of the icon is
    the state's own, the corner differs, and the badge is not the error state's whole-icon triangle."""
    plain, badged = icons.render(kind, 0.2, 64), icons.render(kind, 0.2, 64, badge=True)
    assert badged is not plain and badged is icons.render(kind, 0.2, 64, badge=True)
    assert 0.02 < share_differing(plain, badged) < 0.25
    corner = (40, 40, 64, 64)
    assert share_differing(plain.crop(corner), badged.crop(corner)) > 0.3
    assert share_differing(badged, icons.render(ERROR, 0, 64)) > 0.3
