"""Small PNG charts drawn with Pillow (no matplotlib dependency): training curves, confusion matrix."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from modelzoo.files import replacing

_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
_SKIP = {"phase", "step", "time", "split", "steps_per_sec", "images_per_sec"}


def training_curves(records: list[dict], path: Path, title: str = "") -> Path | None:
    """One panel per value (loss, accuracy, ...), train and validation lines, x = step."""
    series: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for record in records:
        for key, value in record.items():
            if key in _SKIP or not isinstance(value, (int, float)):
                continue
            series.setdefault(key, {}).setdefault(record["phase"], []).append(
                (record["step"], float(value)))
    if not series:
        return None
    panel_w, panel_h, top = 420, 260, 30
    image = Image.new("RGB", (panel_w * min(len(series), 3),
                              top + panel_h * math.ceil(len(series) / 3)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((10, 8), title, fill="black", font=font)
    for i, (name, lines) in enumerate(sorted(series.items())):
        x0, y0 = (i % 3) * panel_w, top + (i // 3) * panel_h
        _panel(draw, font, (x0, y0, panel_w, panel_h), name, lines)
    with replacing(path) as tmp:
        image.save(tmp)
    return path


def _panel(draw, font, box, name, lines) -> None:
    x0, y0, w, h = box
    left, right, top, bottom = x0 + 50, x0 + w - 15, y0 + 25, y0 + h - 30
    points = [p for line in lines.values() for p in line]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_lo, x_hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y_lo, y_hi = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1

    def to_px(x, y):
        return (left + (x - x_lo) / (x_hi - x_lo) * (right - left),
                bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top))

    draw.rectangle((left, top, right, bottom), outline="#888888")
    draw.text((x0 + 10, y0 + 6), name, fill="black", font=font)
    draw.text((x0 + 2, top), f"{y_hi:.3g}", fill="#444444", font=font)
    draw.text((x0 + 2, bottom - 10), f"{y_lo:.3g}", fill="#444444", font=font)
    draw.text((left, bottom + 4), f"{x_lo:g}", fill="#444444", font=font)
    draw.text((right - 40, bottom + 4), f"step {x_hi:g}", fill="#444444", font=font)
    for j, (phase, line) in enumerate(sorted(lines.items())):
        colour = _COLOURS[j % len(_COLOURS)]
        pixels = [to_px(x, y) for x, y in line]
        if len(pixels) > 1:
            draw.line(pixels, fill=colour, width=2)
        for px, py in pixels[-1:] if len(pixels) > 1 else pixels:
            draw.ellipse((px - 3, py - 3, px + 3, py + 3), fill=colour)
        draw.text((right - 90, top + 4 + 12 * j), phase, fill=colour, font=font)


def confusion_matrix(matrix, labels: list[str], path: Path, title: str = "") -> Path:
    """A heat map of counts (rows: true class, columns: predicted class), with the counts written."""
    n = len(labels)
    cell, margin = 40, 60
    image = Image.new("RGB", (margin + n * cell + 10, margin + n * cell + 30), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((10, 6), title, fill="black", font=font)
    draw.text((margin, 22), "predicted (columns)", fill="#444444", font=font)
    draw.text((4, margin - 14), "true", fill="#444444", font=font)
    peak = max(float(matrix.max()), 1.0)
    for i in range(n):
        draw.text((margin + i * cell + 14, margin - 14), labels[i], fill="black", font=font)
        draw.text((margin - 20, margin + i * cell + 14), labels[i], fill="black", font=font)
        for j in range(n):
            value = float(matrix[i][j])
            shade = int(255 - 200 * value / peak)
            fill = (shade, shade, 255)
            box = (margin + j * cell, margin + i * cell, margin + (j + 1) * cell, margin + (i + 1) * cell)
            draw.rectangle(box, fill=fill, outline="#cccccc")
            draw.text((box[0] + 4, box[1] + 14), f"{value:.0f}",
                      fill="white" if shade < 128 else "black", font=font)
    with replacing(path) as tmp:
        image.save(tmp)
    return path



