"""Rendering letters of one alphabet as if written by several "drawers" (font + pen + hand).

Each drawer is a font design of the script plus a personal pen width, slant, rotation, size and
aspect; every image adds small per-sample jitter and a smooth elastic warp. Letters are drawn on a
canvas RENDER_SCALE times larger than the output and box-downsampled, so strokes stay anti-aliased.
"""

from __future__ import annotations

import os
import zlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from metaopt.tasks._glyph_fonts import Alphabet, family_of

__all__ = ["RENDER_SCALE", "Drawer", "make_drawers", "render_alphabet", "similarity", "stable_hash"]

RENDER_SCALE = 4
# A typical (90th percentile) letter of a font spans this fraction of the canvas; large letters
# are shrunk to MAX_EXTENT so nothing is clipped, small ones keep their relative size (o vs O).
NOMINAL_EXTENT = 0.6
MAX_EXTENT = 0.8
MIN_INK_PIXELS = 12  # of 784 at 28x28: a lone dot or tick is not a letter to learn
# Same glyph under two code points (Arabic HEH GOAL/AE, Latin X/Cyrillic HA) scores 0.985-1.0;
# genuinely different letters of one script stay below (Arabic TAH/ZAH, one dot apart: 0.98).
DUPLICATE_SIMILARITY = 0.985
_MESH_CELLS = 4
# Mongolian fonts store letters turned a quarter counter-clockwise, for vertical lines.
_SIDEWAYS = {"Mongolian"}


@dataclass(frozen=True)
class Drawer:
    fonts: tuple[str, ...]  # own font first, then fallbacks for letters it lacks
    pen: int  # >0 thicken strokes by this many canvas pixels, <0 thin them, 0 as designed
    slant: float
    rotation: float
    scale: float
    aspect: float


NEUTRAL = Drawer((), 0, 0.0, 0.0, 1.0, 1.0)


def stable_hash(text: str) -> int:
    """Process-independent hash (str.__hash__ is salted per interpreter)."""
    return zlib.crc32(text.encode("utf-8"))


def _weight_pen(path: str) -> tuple[int, bool]:
    """Extra pen width so hairline weights survive downsampling, and whether thinning is safe."""
    style = os.path.basename(path).rsplit(".", 1)[0].partition("-")[2]
    if "ExtraLight" in style:
        return 2, False
    if "Thin" in style:
        return 3, False
    if "Light" in style:
        return 1, False
    return 0, "ExtraBold" in style or "Black" in style


def make_drawers(alphabet: Alphabet, n: int, rng: np.random.Generator) -> list[Drawer]:
    """``n`` drawers cycling over the alphabet's font designs round-robin by family (Sans, Serif, ...),
    so a few drawers share a font only when the script has fewer than ``n`` font files."""
    families: dict[str, list[str]] = defaultdict(list)
    for path in alphabet.fonts:
        families[family_of(path)].append(path)
    names = sorted(families)
    queues = [list(rng.permutation(families[names[i]])) for i in rng.permutation(len(names))]
    order: list[str] = []
    while any(queues):
        order.extend(q.pop(0) for q in queues if q)
    drawers = []
    for d in range(n):
        fonts = tuple(str(p) for p in order[d % len(order) :] + order[: d % len(order)])
        base_pen, can_thin = _weight_pen(fonts[0])
        pen = base_pen + int(rng.choice([-1, 0, 1, 1, 2]))
        drawers.append(
            Drawer(
                fonts,
                # at least a 1-pixel pen (a quarter output pixel) unless bold: the hairlines of
                # high-contrast designs (Serif Display) otherwise vanish when downsampled
                max(pen, -1) if can_thin else max(pen, 1),
                float(np.clip(rng.normal(0.0, 0.12), -0.3, 0.3)),
                float(np.clip(rng.normal(0.0, 4.0), -10.0, 10.0)),
                float(rng.uniform(0.85, 1.05)),
                float(rng.uniform(0.88, 1.12)),
            )
        )
    return drawers


class _Fonts:
    """FreeType faces of one alphabet, each sized so its typical letter spans NOMINAL_EXTENT."""

    def __init__(self, alphabet: Alphabet, canvas: int) -> None:
        self.alphabet, self.canvas = alphabet, canvas
        self._faces: dict[str, ImageFont.FreeTypeFont] = {}

    def get(self, path: str) -> ImageFont.FreeTypeFont:
        if path not in self._faces:
            ref = 100
            probe = ImageFont.truetype(path, ref, layout_engine=ImageFont.Layout.BASIC)
            covered = [cp for cp in self.alphabet.letters if cp in self.alphabet.coverage[path]]
            sample = covered[:: max(1, len(covered) // 64)]
            extents = [max(b[2] - b[0], b[3] - b[1]) for b in (probe.getbbox(chr(cp)) for cp in sample)]
            typical = float(np.percentile([e for e in extents if e > 0] or [ref], 90))
            size = max(8, round(ref * NOMINAL_EXTENT * self.canvas / typical))
            self._faces[path] = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
        return self._faces[path]

    def for_letter(self, cp: int, order: tuple[str, ...]) -> ImageFont.FreeTypeFont:
        path = next(p for p in order if cp in self.alphabet.coverage[p])
        return self.get(path)


def _render(
    font: ImageFont.FreeTypeFont,
    ch: str,
    drawer: Drawer,
    rng: np.random.Generator | None,
    size: int,
    sideways: bool = False,
) -> np.ndarray | None:
    """One letter as uint8 [size, size], ink bright; None when nothing visible is drawn."""
    canvas = size * RENDER_SCALE
    x0, y0, x1, y1 = font.getbbox(ch)
    if x1 <= x0 or y1 <= y0:
        return None
    # a thick pen fills the counters of small letters (a ring becomes a blob): scale it with size
    pen = min(max(drawer.pen, 0), max(1, max(x1 - x0, y1 - y0) // 20))
    x0, y0, x1, y1 = font.getbbox(ch, stroke_width=pen)
    pad = 2 + pen
    glyph = Image.new("L", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 0)
    draw = ImageDraw.Draw(glyph)
    draw.text((pad - x0, pad - y0), ch, font=font, fill=255, stroke_width=pen, stroke_fill=255)
    if drawer.pen < 0:
        thinner = glyph.filter(ImageFilter.MinFilter(3))
        # serif hairlines can vanish under thinning, which would break the letter apart
        if np.asarray(thinner).sum() > 0.6 * np.asarray(glyph).sum():
            glyph = thinner
    if sideways:
        glyph = glyph.transpose(Image.Transpose.ROTATE_270)
    box = glyph.getbbox()
    if box is None:
        return None
    src_center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    extent = max(box[2] - box[0], box[3] - box[1])

    rotation, slant, scale, aspect = drawer.rotation, drawer.slant, drawer.scale, drawer.aspect
    shift = np.zeros(2)
    if rng is not None:
        rotation += rng.normal(0.0, 3.0)
        slant += rng.normal(0.0, 0.05)
        scale *= rng.uniform(0.93, 1.07)
        aspect *= rng.uniform(0.95, 1.05)
        shift = np.clip(rng.normal(0.0, 0.03 * canvas, 2), -0.06 * canvas, 0.06 * canvas)
    scale *= min(1.0, MAX_EXTENT * canvas / (scale * extent))
    theta = np.deg2rad(rotation)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    forward = scale * rot @ np.array([[1.0, slant], [0.0, 1.0]]) @ np.diag([aspect, 1.0 / aspect])
    inverse = np.linalg.inv(forward)

    nodes = np.linspace(0.0, canvas, _MESH_CELLS + 1)
    grid = np.stack(np.meshgrid(nodes, nodes, indexing="xy"), axis=-1)  # [row=y, col=x, (x, y)]
    src = (grid - canvas / 2 - shift) @ inverse.T + src_center
    if rng is not None:
        # smooth "hand tremor": independent offsets of the mesh nodes, bilinear in between
        src += rng.normal(0.0, 0.02 * canvas / scale, src.shape)
    mesh = []
    for r in range(_MESH_CELLS):
        for c in range(_MESH_CELLS):
            cell = (int(nodes[c]), int(nodes[r]), int(nodes[c + 1]), int(nodes[r + 1]))
            nw, sw, se, ne = src[r, c], src[r + 1, c], src[r + 1, c + 1], src[r, c + 1]
            mesh.append((cell, (*nw, *sw, *se, *ne)))
    warped = glyph.transform((canvas, canvas), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
    small = np.asarray(warped.resize((size, size), Image.Resampling.BOX), dtype=np.float32)
    peak = small.max()
    if peak < 32:
        return None
    # hairline designs come out grey after downsampling; stretch so every drawer's ink peaks at 255
    return np.round(small * (255.0 / peak)).astype(np.uint8)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of images, rows of ``a`` [n, H, W] against rows of ``b`` [m, H, W]."""

    def unit(x: np.ndarray) -> np.ndarray:
        x = x.reshape(len(x), -1).astype(np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)

    return unit(a) @ unit(b).T


def _reference_order(alphabet: Alphabet) -> tuple[str, ...]:
    """Fonts for the clean template of a letter: the plain Sans Regular design first."""

    def rank(path: str) -> tuple[bool, bool, str]:
        name = os.path.basename(path)
        return (not name.rsplit(".", 1)[0].endswith("-Regular"), not name.startswith("NotoSans"), name)

    return tuple(sorted(alphabet.fonts, key=rank))


def render_alphabet(
    job: tuple[Alphabet, int, int, int, int],
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Letters kept, their clean templates [L, H, W] and drawn images [L, drawers, H, W].

    Drops letters that render empty or nearly so, and later letters that duplicate an earlier one;
    keeps at most ``max_letters`` (seeded choice). Deterministic in (alphabet, seed).
    """
    alphabet, n_drawers, size, seed, max_letters = job
    key = stable_hash(alphabet.name)
    fonts = _Fonts(alphabet, size * RENDER_SCALE)
    sideways = alphabet.name in _SIDEWAYS
    reference = _reference_order(alphabet)
    kept: list[int] = []
    templates: list[np.ndarray] = []
    for cp in alphabet.letters:
        image = _render(fonts.for_letter(cp, reference), chr(cp), NEUTRAL, None, size, sideways)
        if image is None or int((image > 127).sum()) < MIN_INK_PIXELS:
            continue
        if templates and similarity(image[None], np.stack(templates)).max() > DUPLICATE_SIMILARITY:
            continue
        kept.append(cp)
        templates.append(image)
    if len(kept) > max_letters:
        pick = np.sort(np.random.default_rng([seed, key, 1]).choice(len(kept), max_letters, replace=False))
        kept, templates = [kept[i] for i in pick], [templates[i] for i in pick]

    drawers = make_drawers(alphabet, n_drawers, np.random.default_rng([seed, key, 0]))
    images = np.zeros((len(kept), n_drawers, size, size), dtype=np.uint8)
    for i, cp in enumerate(kept):
        for d, drawer in enumerate(drawers):
            rng = np.random.default_rng([seed, key, cp, d])
            image = _render(fonts.for_letter(cp, drawer.fonts), chr(cp), drawer, rng, size, sideways)
            if image is None:
                # thinning can erase a hairline letter: draw it with the drawer's hand but the plain pen
                plain = Drawer(drawer.fonts, 0, drawer.slant, drawer.rotation, drawer.scale, drawer.aspect)
                image = _render(fonts.for_letter(cp, drawer.fonts), chr(cp), plain, rng, size, sideways)
            images[i, d] = image if image is not None else templates[i]
    template_array = np.stack(templates) if templates else np.zeros((0, size, size), np.uint8)
    return kept, template_array, images
