"""`brushwork suggest`: styles ranked by colour and texture compatibility, with reasons."""

import json

import numpy as np
from PIL import Image

from brushwork.cli import main
from brushwork.color.suggest import detail_energy, palette_distance, rank_styles
from brushwork.color.palette import Palette


def test_a_style_with_the_photos_colours_and_detail_ranks_first():
    rng = np.random.default_rng(0)
    photo = np.clip(np.array([0.8, 0.5, 0.2]) + 0.1 * rng.standard_normal((96, 128, 1)), 0, 1)
    alike = np.clip(np.array([0.75, 0.5, 0.25]) + 0.1 * rng.standard_normal((96, 128, 1)), 0, 1)
    blue_flat = np.tile(np.linspace([0.1, 0.2, 0.8], [0.2, 0.3, 0.9], 128), (96, 1, 1))
    busy = rng.random((96, 128, 3))
    ranked = rank_styles(photo, {"blue": blue_flat, "alike": alike, "busy": busy})
    assert [s.style for s in ranked][0] == "alike"
    best = ranked[0]
    assert best.colour > 0.5 and best.texture > 0.7 and len(best.palette) == 6 and len(best.reasons) == 3
    assert ranked[-1].strength <= best.strength  # a distant palette gets a gentler strength
    assert detail_energy(busy) > 2 * detail_energy(photo) > 20 * detail_energy(blue_flat)


def test_palette_distance_is_symmetric_and_zero_for_itself():
    a = Palette.from_hex(["#ff0000", "#00ff00"])
    b = Palette.from_hex(["#0000ff"])
    assert palette_distance(a, a) == 0 and palette_distance(a, b) == palette_distance(b, a)


def test_suggest_cli(tmp_path, content_path, capsys):
    styles = tmp_path / "styles"
    styles.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(styles / f"s{i}.png")
    (styles / "broken.png").write_bytes(b"not an image")
    assert main(["suggest", str(content_path), "--styles", str(styles), "--json"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert len(data["suggestions"]) == 3 and data["skipped"] == 1  # two styles + the bundled painting
    scores = [s["score"] for s in data["suggestions"]]
    assert scores == sorted(scores, reverse=True)
    assert main(["suggest", str(content_path), "--styles", str(tmp_path / "nope.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
