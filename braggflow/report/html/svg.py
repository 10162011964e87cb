"""Plots as inline SVG: axes, ticks, lines, scatter, bars, bands, polygons and heat maps.

No dependencies beyond numpy. A `Plot` collects layers in data coordinates and renders one
`<svg>` element (viewBox, so it scales to the page width and prints sharply). Scatter points
are drawn as zero-length round-capped path segments (about 12 bytes a point); above
`max_points` they should be binned into a heat map (`Plot.heatmap`, an embedded PNG).
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from braggflow.report.html.png import colourise, png_data_uri

__all__ = ["PALETTE", "Plot", "nice_ticks", "resolution_ticks", "fmt"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")
FONT = "font-family:sans-serif"
_CLIP_IDS = itertools.count(1)


def fmt(value: float, digits: int = 4) -> str:
    """Short number text: 0.000123 -> 1.23e-04, 1234.5 -> 1234.5, nan -> n/a."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.{max(digits - 2, 1)}e}"
    return f"{value:.{digits}g}"


def nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """About n round tick values (steps 1, 2, 5 x 10^k) inside [lo, hi]."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return [lo] if np.isfinite(lo) else []
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * step:
        ticks.append(0.0 if abs(t) < 1e-12 * step else round(t, 12))
        t += step
    return ticks


_D_CANDIDATES = (50, 30, 20, 15, 10, 8, 6, 5, 4, 3.5, 3, 2.5, 2.2, 2, 1.8, 1.6, 1.5, 1.4, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def resolution_ticks(lo_inv_d2: float, hi_inv_d2: float, n: int = 6) -> tuple[list[float], list[str]]:
    """Ticks for a 1/d^2 axis labelled in d (Angstrom), spread evenly in 1/d^2."""
    chosen: list[float] = []
    min_gap = (hi_inv_d2 - lo_inv_d2) / (n + 1) if hi_inv_d2 > lo_inv_d2 else 0.0
    for d in reversed(_D_CANDIDATES):  # from high resolution down, so crowded low-resolution labels drop out
        x = 1.0 / (d * d)
        if lo_inv_d2 <= x <= hi_inv_d2 and (not chosen or chosen[-1] - x >= min_gap):
            chosen.append(x)
    chosen.reverse()
    return chosen, [f"{1 / math.sqrt(x):.3g}" for x in chosen]


def _finite_xy(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=np.float64).reshape(-1)
    ya = np.asarray(y, dtype=np.float64).reshape(-1)
    ok = np.isfinite(xa) & np.isfinite(ya)
    return xa[ok], ya[ok]


@dataclass
class Plot:
    """One chart. Add layers in data coordinates, then `svg()`.

    equal_aspect keeps one x unit as long as one y unit (detector views); invert_y puts y = 0
    at the top (image rows). xticks = (positions, labels) overrides automatic x ticks.
    """

    title: str
    xlabel: str = ""
    ylabel: str = ""
    width: int = 460
    height: int = 300
    equal_aspect: bool = False
    invert_y: bool = False
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    xticks: tuple[Sequence[float], Sequence[str]] | None = None
    xtick_format: Callable[[float], str] | None = None
    legend: bool = True
    min_yspan: float = 0.0
    layers: list[tuple[str, dict]] = field(default_factory=list)
    plot_id: str = ""

    # --- layers ----------------------------------------------------------------------
    def _colour(self, colour: str | None) -> str:
        return colour or PALETTE[sum(1 for k, s in self.layers if s.get("auto_colour")) % len(PALETTE)]

    def line(self, x, y, label: str = "", colour: str | None = None, dash: str = "", markers: bool = False, width: float = 1.6) -> "Plot":  # type: ignore[no-untyped-def]
        xa, ya = _finite_xy(x, y)
        self.layers.append(("line", dict(x=xa, y=ya, label=label, colour=self._colour(colour), dash=dash, markers=markers, width=width, auto_colour=colour is None)))
        return self

    def scatter(self, x, y, label: str = "", colour: str | None = None, size: float = 3.0, opacity: float = 0.8) -> "Plot":  # type: ignore[no-untyped-def]
        xa, ya = _finite_xy(x, y)
        self.layers.append(("scatter", dict(x=xa, y=ya, label=label, colour=self._colour(colour), size=size, opacity=opacity, auto_colour=colour is None)))
        return self

    def bars(self, edges, heights, label: str = "", colour: str | None = None, opacity: float = 0.85) -> "Plot":  # type: ignore[no-untyped-def]
        e = np.asarray(edges, dtype=np.float64)
        h = np.nan_to_num(np.asarray(heights, dtype=np.float64))
        self.layers.append(("bars", dict(x=e, y=np.concatenate([[0.0], h]), edges=e, heights=h, label=label, colour=self._colour(colour), opacity=opacity, auto_colour=colour is None)))
        return self

    def vband(self, x0: float, x1: float, colour: str = "#9ecae1", label: str = "", opacity: float = 0.45) -> "Plot":
        """A shaded vertical band (e.g. an ice ring); does not change the y range."""
        self.layers.append(("vband", dict(x=np.array([x0, x1]), y=np.zeros(0), label=label, colour=colour, opacity=opacity)))
        return self

    def hline(self, y: float, colour: str = "#555", dash: str = "4 3", label: str = "") -> "Plot":
        self.layers.append(("hline", dict(x=np.zeros(0), y=np.array([y]), label=label, colour=colour, dash=dash)))
        return self

    def polygon(self, x, y, colour: str = "#333", fill: str = "none", label: str = "", closed: bool = True, dash: str = "") -> "Plot":  # type: ignore[no-untyped-def]
        xa, ya = _finite_xy(x, y)
        self.layers.append(("polygon", dict(x=xa, y=ya, label=label, colour=colour, fill=fill, closed=closed, dash=dash)))
        return self

    def marker(self, x: float, y: float, label: str = "", colour: str = "#d62728", size: float = 9.0) -> "Plot":
        """A cross (e.g. the beam centre)."""
        self.layers.append(("marker", dict(x=np.array([x]), y=np.array([y]), label=label, colour=colour, size=size)))
        return self

    def text(self, x: float, y: float, s: str, colour: str = "#333") -> "Plot":
        self.layers.append(("text", dict(x=np.array([x]), y=np.array([y]), s=s, colour=colour, label="")))
        return self

    def heatmap(self, values: np.ndarray, extent: tuple[float, float, float, float], label: str = "", vmin: float | None = None, vmax: float | None = None) -> "Plot":
        """values (ny, nx), row 0 at y = extent[2]; extent = (x0, x1, y0, y1) in data units."""
        v = np.asarray(values, dtype=np.float64)
        x0, x1, y0, y1 = extent
        fin = v[np.isfinite(v)]
        lo = float(fin.min()) if vmin is None and fin.size else (vmin or 0.0)
        hi = float(fin.max()) if vmax is None and fin.size else (vmax if vmax is not None else 1.0)
        self.layers.append(("heatmap", dict(x=np.array([x0, x1]), y=np.array([y0, y1]), v=v, vmin=lo, vmax=hi, label=label)))
        return self

    # --- rendering -------------------------------------------------------------------
    def _limits(self) -> tuple[float, float, float, float]:
        xs = [s["x"] for k, s in self.layers if k not in ("hline",) and s["x"].size]
        ys = [s["y"] for k, s in self.layers if k not in ("vband",) and s["y"].size]
        x = np.concatenate(xs) if xs else np.array([0.0, 1.0])
        y = np.concatenate(ys) if ys else np.array([0.0, 1.0])
        x0, x1 = self.xlim or (float(x.min()), float(x.max()))
        y0, y1 = self.ylim or (float(y.min()), float(y.max()))
        if x1 <= x0:
            x0, x1 = x0 - 0.5 - abs(x0) * 0.05, x1 + 0.5 + abs(x1) * 0.05
        if y1 <= y0:
            y0, y1 = y0 - 0.5 - abs(y0) * 0.05, y1 + 0.5 + abs(y1) * 0.05
        if self.ylim is None and y1 - y0 < self.min_yspan:
            mid = 0.5 * (y0 + y1)
            y0, y1 = mid - self.min_yspan / 2, mid + self.min_yspan / 2
        if self.ylim is None:
            pad = 0.05 * (y1 - y0)
            y0, y1 = (y0 - pad if y0 != 0 else y0), y1 + pad
        return x0, x1, y0, y1

    def svg(self) -> str:
        ml, mr, mt, mb = 62, 14, 28, 44
        has_legend = self.legend and any(s.get("label") for k, s in self.layers if k not in ("text",))
        if has_legend:
            mt += 16
        pw, ph = self.width - ml - mr, self.height - mt - mb
        x0, x1, y0, y1 = self._limits()
        if self.equal_aspect:
            sx, sy = (x1 - x0) / pw, (y1 - y0) / ph
            s = max(sx, sy)
            cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
            x0, x1, y0, y1 = cx - s * pw / 2, cx + s * pw / 2, cy - s * ph / 2, cy + s * ph / 2

        def X(v: np.ndarray) -> np.ndarray:
            return ml + (np.asarray(v) - x0) / (x1 - x0) * pw

        def Y(v: np.ndarray) -> np.ndarray:
            f = (np.asarray(v) - y0) / (y1 - y0)
            return mt + (f if self.invert_y else 1 - f) * ph

        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" class="plot-svg" role="img" '
            f'aria-label="{html.escape(self.title)}" style="{FONT};font-size:11px">',
            f"<title>{html.escape(self.title)}</title>",
            f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fff" stroke="#999"/>',
            f'<text x="{self.width / 2:.1f}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{html.escape(self.title)}</text>',
        ]
        out += self._axes(X, Y, (x0, x1, y0, y1), (ml, mt, pw, ph))
        clip = f"clip{self.plot_id or 'p'}-{next(_CLIP_IDS)}"
        out.append(f'<clipPath id="{clip}"><rect x="{ml}" y="{mt}" width="{pw}" height="{ph}"/></clipPath><g clip-path="url(#{clip})">')
        for kind, s in self.layers:
            out.append(self._layer(kind, s, X, Y, (ml, mt, pw, ph)))
        out.append("</g>")
        if has_legend:
            out.append(self._legend(ml, mt - 14))
        out.append("</svg>")
        return "".join(out)

    def _axes(self, X, Y, lim, box) -> list[str]:  # type: ignore[no-untyped-def]
        x0, x1, y0, y1 = lim
        ml, mt, pw, ph = box
        out = []
        if self.xticks is not None:
            xt, xl = list(self.xticks[0]), list(self.xticks[1])
        else:
            xt = nice_ticks(x0, x1)
            f = self.xtick_format or (lambda v: fmt(v, 4))
            xl = [f(v) for v in xt]
        for v, lab in zip(xt, xl):
            if x0 <= v <= x1:
                px = float(X(v))
                out.append(f'<line x1="{px:.1f}" y1="{mt + ph}" x2="{px:.1f}" y2="{mt + ph + 4}" stroke="#555"/>'
                           f'<text x="{px:.1f}" y="{mt + ph + 15}" text-anchor="middle">{html.escape(lab)}</text>')
        for v in nice_ticks(y0, y1, 5):
            py = float(Y(v))
            out.append(f'<line x1="{ml - 4}" y1="{py:.1f}" x2="{ml + pw}" y2="{py:.1f}" stroke="#eee"/>'
                       f'<text x="{ml - 6}" y="{py + 3.5:.1f}" text-anchor="end">{html.escape(fmt(v, 4))}</text>')
        out.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        out.append(f'<text x="{ml + pw / 2:.1f}" y="{mt + ph + 34}" text-anchor="middle">{html.escape(self.xlabel)}</text>')
        out.append(f'<text transform="translate(14 {mt + ph / 2:.1f}) rotate(-90)" text-anchor="middle">{html.escape(self.ylabel)}</text>')
        return out

    def _layer(self, kind, s, X, Y, box) -> str:  # type: ignore[no-untyped-def]
        ml, mt, pw, ph = box
        tip = f"<title>{html.escape(s['label'])}</title>" if s.get("label") else ""
        if kind == "line" and s["x"].size:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(s["x"]), Y(s["y"])))
            dash = f' stroke-dasharray="{s["dash"]}"' if s["dash"] else ""
            txt = f'<polyline points="{pts}" fill="none" stroke="{s["colour"]}" stroke-width="{s["width"]}"{dash}>{tip}</polyline>'
            if s["markers"]:
                txt += self._dots(X(s["x"]), Y(s["y"]), s["colour"], 5.0, 1.0, "")
            return txt
        if kind == "scatter" and s["x"].size:
            return self._dots(X(s["x"]), Y(s["y"]), s["colour"], s["size"], s["opacity"], tip)
        if kind == "bars" and s["heights"].size:
            e, h = s["edges"], s["heights"]
            base = float(Y(0.0))
            parts = []
            for a, b, v in zip(X(e[:-1]), X(e[1:]), Y(h)):
                top, hgt = min(float(v), base), abs(base - float(v))
                parts.append(f"M{a:.1f} {top:.1f}h{max(b - a, 0.5):.1f}v{hgt:.1f}h{-max(b - a, 0.5):.1f}z")
            return f'<path d="{"".join(parts)}" fill="{s["colour"]}" fill-opacity="{s["opacity"]}" stroke="#fff" stroke-width="0.3">{tip}</path>'
        if kind == "vband":
            a, b = sorted(float(v) for v in X(s["x"]))
            return f'<rect x="{a:.1f}" y="{mt}" width="{max(b - a, 1.0):.1f}" height="{ph}" fill="{s["colour"]}" fill-opacity="{s["opacity"]}">{tip}</rect>'
        if kind == "hline":
            py = float(Y(s["y"][0]))
            return f'<line x1="{ml}" x2="{ml + pw}" y1="{py:.1f}" y2="{py:.1f}" stroke="{s["colour"]}" stroke-dasharray="{s["dash"]}">{tip}</line>'
        if kind == "polygon" and s["x"].size:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(s["x"]), Y(s["y"])))
            tag = "polygon" if s["closed"] else "polyline"
            dash = f' stroke-dasharray="{s["dash"]}"' if s["dash"] else ""
            return f'<{tag} points="{pts}" fill="{s["fill"]}" stroke="{s["colour"]}" stroke-width="1.2"{dash}>{tip}</{tag}>'
        if kind == "marker":
            px, py, r = float(X(s["x"][0])), float(Y(s["y"][0])), s["size"] / 2
            return (f'<path d="M{px - r:.1f} {py:.1f}h{2 * r:.1f}M{px:.1f} {py - r:.1f}v{2 * r:.1f}" '
                    f'stroke="{s["colour"]}" stroke-width="2">{tip}</path>')
        if kind == "text":
            return f'<text x="{float(X(s["x"][0])):.1f}" y="{float(Y(s["y"][0])):.1f}" fill="{s["colour"]}" font-size="10">{html.escape(s["s"])}</text>'
        if kind == "heatmap":
            xa, xb = (float(v) for v in X(s["x"]))
            ya, yb = (float(v) for v in Y(s["y"]))
            img = s["v"] if (ya < yb) else s["v"][::-1]
            uri = png_data_uri(colourise(img, s["vmin"], s["vmax"]))
            return (f'<image x="{min(xa, xb):.1f}" y="{min(ya, yb):.1f}" width="{abs(xb - xa):.1f}" height="{abs(yb - ya):.1f}" '
                    f'preserveAspectRatio="none" style="image-rendering:pixelated" href="{uri}">{tip}</image>')
        return ""

    @staticmethod
    def _dots(px: np.ndarray, py: np.ndarray, colour: str, size: float, opacity: float, tip: str) -> str:
        d = "".join(f"M{a:.1f} {b:.1f}h0" for a, b in zip(px, py))
        return (f'<path d="{d}" stroke="{colour}" stroke-width="{size}" stroke-linecap="round" '
                f'stroke-opacity="{opacity}" fill="none">{tip}</path>')

    def _legend(self, x: float, y: float) -> str:
        parts, cx = [], x
        for kind, s in self.layers:
            label = s.get("label")
            if not label or kind == "text":
                continue
            if kind == "heatmap":
                label = f"{label}: {fmt(s['vmin'], 3)} (dark) to {fmt(s['vmax'], 3)}"
                colour = "#3b528b"
            else:
                colour = s.get("colour", "#333")
            parts.append(f'<rect x="{cx:.1f}" y="{y - 8:.1f}" width="10" height="10" fill="{colour}" fill-opacity="0.85"/>'
                         f'<text x="{cx + 13:.1f}" y="{y + 1:.1f}">{html.escape(label)}</text>')
            cx += 22 + 6.2 * len(label)
        return "".join(parts)
