"""The tray icon and the application logo, drawn in code with Pillow (SPEC §7).

The tray icon is a pure function of the state: `icon_image(state)` → `PIL.Image`. Nothing is loaded
from disk, so the tray draws in any install layout, and tests need no display.

One look per state, told apart by silhouette as well as by hue, so that colour-blind users, greyscale
and monochrome panels still see which is which:

| state      | shape                                         | colour  | time ring             |
|------------|-----------------------------------------------|---------|-----------------------|
| signed out | hollow circle crossed by a dash               | grey    | empty track           |
| valid      | disc with a check mark cut out                | green   | the fraction left     |
| expiring   | disc with clock hands cut out                 | amber   | the fraction left     |
| expired    | a disc as large as the icon, a bold X cut out | red     | none (the time is up) |
| signing in | disc with three dots cut out                  | violet-blue | four dashes all round |
| error      | triangle with a "!" cut out, filling the icon | magenta | none                  |

Expired is the loudest: the largest solid shape in the strongest red, where the person has to act. The
colours were chosen so that every two states differ clearly (CIELAB ΔE over 20 between their painted
pixels, at 16 and 22 px on a dark and a light panel) also as people with deuteranopia and protanopia see
them (Machado et al. 2009): their lightness differs, not only their hue (tests/test_icons.py measures it).

The glyphs are cut out of their shape (transparent) rather than painted white, so the silhouette itself
carries the meaning on a panel that draws icons as a single-colour mask. The ring around the glyph is
the session's time left: it starts at 12 o'clock and runs clockwise, and a faint track shows the rest.

Shapes are drawn at 4× and downsampled with LANCZOS, which anti-aliases them; renders are cached by
(state, fraction in 1/60 steps, size), so redrawing the same icon every minute costs nothing.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from tray.core.engine.state import ERROR, EXPIRED, EXPIRING, SIGNED_OUT, SIGNING_IN, VALID, State

KINDS: tuple[str, ...] = (SIGNED_OUT, VALID, EXPIRING, EXPIRED, SIGNING_IN, ERROR)

# Icon sizes each platform asks for. Linux panels are 22–32 px at 1× (AppIndicator and GTK scale what
# they are given); the macOS menu bar is 22 pt, i.e. 22 or 44 px; Windows takes 16 px at 100 % scaling
# up to 32 px at 200 %, and larger sizes for its .ico.
PLATFORM_SIZES: dict[str, tuple[int, ...]] = {
    "linux": (22, 24, 32, 48, 64),
    "darwin": (22, 44),
    "win32": (16, 20, 24, 32, 48, 64, 256),
}

# Sizes of the hicolor icon theme (and of the .ico/.icns packaging builds from them).
APP_ICON_SIZES: tuple[int, ...] = (16, 22, 24, 32, 48, 64, 128, 256, 512)
APP_NAME = "sso-tray"

# Geometry, as fractions of the icon's size. The ring is the annulus RING_INNER…RING_OUTER around the
# centre; the glyph's shape sits inside it with a gap that keeps the two apart at 16 px.
RING_OUTER = 0.49
RING_INNER = 0.36
GLYPH_RADIUS = 0.305

STEPS = 60  # the ring moves in 1/60 steps: one minute of a one-hour session, 6° of arc

_SUPERSAMPLE = 4

GREY = (130, 130, 130, 255)
GREEN = (41, 183, 80, 255)
AMBER = (255, 204, 0, 255)
RED = (236, 28, 0, 255)
BLUE = (93, 61, 252, 255)
MAGENTA = (227, 82, 219, 255)
TRACK = (128, 128, 128, 80)  # under half opacity: the arc stands out from it, on dark and light panels
CLEAR = (0, 0, 0, 0)

_COLOURS = {SIGNED_OUT: GREY, VALID: GREEN, EXPIRING: AMBER, EXPIRED: RED, SIGNING_IN: BLUE, ERROR: MAGENTA}


def tray_size(platform: str = sys.platform) -> int:
    """The size of image the running tray hands to pystray.

    Linux: 64 — AppIndicator and GTK scale the icon file to the panel (22–48 px, more on HiDPI), and a
    64 px image scaled down stays crisp where a 22 px one scaled up would blur.
    macOS: 44 — the bar at 2×: tray.ui.macmenu makes a 22-pt template image of it with a 22 px and a
    44 px representation, so that Retina screens get a drawing of their own size.
    Windows: 32 — pystray saves the image as an .ico (Pillow adds 16 and 24 px) and loads it at the
    system icon size, 32 px at 100 % scaling; the notification area shows it at 16–32 px.
    """
    if platform.startswith("linux") or platform.startswith("freebsd"):
        return 64
    if platform == "darwin":
        return 44
    if platform in ("win32", "cygwin"):
        return 32
    return 64


def icon_image(state: State, size: int = 64) -> Image.Image:
    """The tray icon for `state`: the look of its icon state, with the most urgent session's time left,
    and an error badge while that session's network actions fail.

    Shared from the cache like `render`'s images: do not change it."""
    session = state.icon_session
    fraction = session.fraction_left(state.now) if session is not None else 0.0
    return render(state.icon_state, fraction, size, badge=bool(session and session.failing and state.icon_state != ERROR))


def render(kind: str, fraction_left: float, size: int, badge: bool = False) -> Image.Image:
    """The icon of `kind` (a state constant) with `fraction_left` (0…1) of the ring drawn, size×size RGBA.

    The fraction is rounded to 1/60, but any time left keeps at least one step of the ring: an empty
    ring means the time is up. The image comes from a cache and is shared: copy it before changing it.
    The same inputs give the same object, so `is` tells the tray whether the icon has changed.
    """
    if kind not in _COLOURS:
        raise ValueError(f"unknown icon state {kind!r}")
    if size < 1:
        raise ValueError(f"icon size must be positive, not {size}")
    steps = 0
    if kind in (VALID, EXPIRING) and fraction_left > 0:
        steps = max(1, round(min(1.0, fraction_left) * STEPS))
    return _render(kind, steps, size, badge)


@functools.lru_cache(maxsize=512)
def _render(kind: str, steps: int, size: int, badge: bool = False) -> Image.Image:
    big = size * _SUPERSAMPLE
    image = Image.new("RGBA", (big, big), CLEAR)
    pen = _Pen(image)
    colour = _COLOURS[kind]
    if kind not in (ERROR, EXPIRED):  # the error triangle and the expired disc have the whole icon to themselves
        _ring(pen, kind, colour, steps / STEPS)
    _GLYPHS[kind](pen, colour, 1 / size)
    if badge:
        _badge(pen)
    return image.resize((size, size), Image.Resampling.LANCZOS)


class _Pen:
    """ImageDraw in unit coordinates: (0, 0) is the top-left corner of the icon, (1, 1) the bottom-right."""

    def __init__(self, image: Image.Image) -> None:
        self.scale = image.width
        self.draw = ImageDraw.Draw(image)

    def _xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale, y * self.scale

    def disc(self, cx: float, cy: float, r: float, fill) -> None:
        self.draw.ellipse([*self._xy(cx - r, cy - r), *self._xy(cx + r, cy + r)], fill=fill)

    def ring(self, cx: float, cy: float, r: float, width: float, fill) -> None:
        self.draw.ellipse(
            [*self._xy(cx - r, cy - r), *self._xy(cx + r, cy + r)], outline=fill, width=round(width * self.scale)
        )

    def pie(self, r: float, start: float, end: float, fill) -> None:
        """A slice of the disc of radius r around the centre, from angle `start` to `end` in degrees
        clockwise from 12 o'clock."""
        self.draw.pieslice([*self._xy(0.5 - r, 0.5 - r), *self._xy(0.5 + r, 0.5 + r)], start - 90, end - 90, fill=fill)

    def stroke(self, points: list[tuple[float, float]], width: float, fill) -> None:
        """A polyline with round joints and round caps."""
        xy = [self._xy(x, y) for x, y in points]
        w = width * self.scale
        self.draw.line(xy, fill=fill, width=round(w), joint="curve")
        for x, y in (xy[0], xy[-1]):
            self.draw.ellipse([x - w / 2, y - w / 2, x + w / 2, y + w / 2], fill=fill)

    def polygon(self, points: list[tuple[float, float]], fill) -> None:
        self.draw.polygon([self._xy(x, y) for x, y in points], fill=fill)


def _ring(pen: _Pen, kind: str, colour, fraction: float) -> None:
    if kind == SIGNING_IN:  # in progress: dashes all round, like a spinner
        dashes = 4
        for i in range(dashes):
            start = i * 360 / dashes + 360 / dashes * 0.2
            pen.pie(RING_OUTER, start, start + 360 / dashes * 0.6, colour)
    else:
        pen.pie(RING_OUTER, 0, 360, TRACK)
        if fraction >= 1.0:
            pen.pie(RING_OUTER, 0, 360, colour)
        elif fraction > 0.0:
            pen.pie(RING_OUTER, 0, 360 * fraction, colour)
    pen.disc(0.5, 0.5, RING_INNER, CLEAR)


# Glyphs, drawn in the disc of radius GLYPH_RADIUS at the centre; `r` is that radius and `px` one pixel
# of the final image, the floor under stroke widths so that strokes stay solid at 16 px.

def _signed_out(pen: _Pen, colour, px: float) -> None:
    r = GLYPH_RADIUS
    width = max(0.3 * r, 2 * px)
    pen.ring(0.5, 0.5, r, width, colour)
    pen.stroke([(0.5 - 0.45 * r, 0.5), (0.5 + 0.45 * r, 0.5)], width, colour)


def _valid(pen: _Pen, colour, px: float) -> None:
    r = GLYPH_RADIUS
    pen.disc(0.5, 0.5, r, colour)
    tick = [(0.5 - 0.5 * r, 0.5 + 0.02 * r), (0.5 - 0.14 * r, 0.5 + 0.38 * r), (0.5 + 0.52 * r, 0.5 - 0.36 * r)]
    pen.stroke(tick, max(0.26 * r, 1.5 * px), CLEAR)


def _expiring(pen: _Pen, colour, px: float) -> None:
    r = GLYPH_RADIUS
    pen.disc(0.5, 0.5, r, colour)
    # A clock at ten past four: the long hand up, the short one down-right, time slipping away.
    pen.stroke([(0.5, 0.5 - 0.62 * r), (0.5, 0.5), (0.5 + 0.42 * r, 0.5 + 0.3 * r)], max(0.24 * r, 2 * px), CLEAR)


def _expired(pen: _Pen, colour, px: float) -> None:
    # The time is up, so no ring: the disc takes the ring's place too, the largest solid shape of all.
    r = RING_OUTER
    pen.disc(0.5, 0.5, r, colour)
    d, width = 0.42 * r, max(0.2 * r, 2 * px)
    pen.stroke([(0.5 - d, 0.5 - d), (0.5 + d, 0.5 + d)], width, CLEAR)
    pen.stroke([(0.5 - d, 0.5 + d), (0.5 + d, 0.5 - d)], width, CLEAR)


def _signing_in(pen: _Pen, colour, px: float) -> None:
    r = GLYPH_RADIUS
    pen.disc(0.5, 0.5, r, colour)
    spacing, dot = max(0.52 * r, 3 * px), max(0.17 * r, px)
    for dx in (-spacing, 0.0, spacing):
        pen.disc(0.5 + dx, 0.5, dot, CLEAR)


def _error(pen: _Pen, colour, px: float) -> None:
    # A warning triangle as large as the icon: with no ring to share the space with, it reads at 16 px.
    corners = [(0.5, 0.09), (0.955, 0.88), (0.045, 0.88)]
    pen.polygon(corners, colour)
    pen.stroke([*corners, corners[0]], 0.08, colour)  # rounds the corners
    pen.polygon([(0.44, 0.33), (0.56, 0.33), (0.535, 0.64), (0.465, 0.64)], CLEAR)
    pen.disc(0.5, 0.75, 0.057, CLEAR)


def _badge(pen: _Pen) -> None:
    # The error's colour in the bottom-right corner, cut out of what is under it so that it reads on any
    # state: the state (and its urgency) stays, the badge says its renewals or listings are failing.
    pen.disc(0.78, 0.78, 0.25, CLEAR)
    pen.disc(0.78, 0.78, 0.2, MAGENTA)
    pen.polygon([(0.755, 0.64), (0.805, 0.64), (0.795, 0.81), (0.765, 0.81)], CLEAR)
    pen.disc(0.78, 0.87, 0.028, CLEAR)


_GLYPHS = {
    SIGNED_OUT: _signed_out,
    VALID: _valid,
    EXPIRING: _expiring,
    EXPIRED: _expired,
    SIGNING_IN: _signing_in,
    ERROR: _error,
}


# The application's logo: a key on a cloud, on a dark rounded tile. Coordinates are in the 512-unit
# viewBox of assets/sso-tray.svg, which draws the same shapes; keep the two in step.
LOGO_TILE = (31, 47, 74, 255)
LOGO_CLOUD = (255, 255, 255, 255)
LOGO_KEY = (240, 165, 0, 255)


def app_icon(size: int) -> Image.Image:
    """The application's logo, size×size RGBA, for the .desktop file, the hicolor theme, .icns and .ico."""
    return _app_icon(size).copy()


@functools.lru_cache(maxsize=16)
def _app_icon(size: int) -> Image.Image:
    big = size * _SUPERSAMPLE
    image = Image.new("RGBA", (big, big), CLEAR)
    draw = ImageDraw.Draw(image)
    k = big / 512

    def box(x0, y0, x1, y1):
        return [x0 * k, y0 * k, x1 * k, y1 * k]

    def circle(cx, cy, r, fill):
        draw.ellipse(box(cx - r, cy - r, cx + r, cy + r), fill=fill)

    draw.rounded_rectangle(box(16, 16, 496, 496), radius=96 * k, fill=LOGO_TILE)
    # Cloud: three puffs; a rectangle fills between them down to the line the outer two stand on.
    circle(176, 294, 84, LOGO_CLOUD)
    circle(286, 238, 112, LOGO_CLOUD)
    circle(380, 310, 68, LOGO_CLOUD)
    draw.rectangle(box(176, 286, 380, 378), fill=LOGO_CLOUD)
    # Key: a bow with a hole, a shaft, two teeth.
    circle(190, 310, 56, LOGO_KEY)
    circle(190, 310, 22, LOGO_CLOUD)
    draw.rectangle(box(236, 293, 400, 327), fill=LOGO_KEY)
    draw.rectangle(box(364, 327, 390, 358), fill=LOGO_KEY)
    draw.rectangle(box(326, 327, 350, 350), fill=LOGO_KEY)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def save_app_icons(folder: Path | str, sizes: tuple[int, ...] = APP_ICON_SIZES) -> list[Path]:
    """Write the logo as a hicolor icon theme tree: `folder/NxN/apps/sso-tray.png` for each size."""
    written = []
    for size in sizes:
        path = Path(folder) / f"{size}x{size}" / "apps" / f"{APP_NAME}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        _app_icon(size).save(path, format="PNG")
        written.append(path)
    return written
