"""Enhanced prompts per backend, text_in_prompt modes, caption overlays, token warnings, the rewriter hook."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from render_pipeline.backends.specs import WAN_NEGATIVE_PROMPT
from render_pipeline.cli import app
from render_pipeline.errors import UserError
from render_pipeline.prompts import enhance_shot, enhance_storyboard, overlays_for_shot
from render_pipeline.storyboard import load_storyboard
from tests.test_prompts_corpus import WITH_TEXT

STORYBOARD = """\
version: 1
title: Prompt Test
defaults:
  style: "cinematic documentary, natural light"
  negative_prompt: "blurry, watermark"
shots:
  - id: banner
    duration: 4
    prompt: 'Aerial view of a harbor, a banner reading "HARBOR DAYS 2026" between two cranes'
    camera: {size: wide, angle: aerial, movement: slow push in, lens_mm: 35}
  - id: sign
    duration: 3
    prompt: 'A neon sign that says "open late" over a bar door'
    overlays:
      - {text: "Open  LATE", style: title, start: 0.5, end: 2.5}
  - id: strip
    duration: 2
    text_in_prompt: strip
    prompt: 'A placard saying "NO MORE WAR" in a crowd'
  - id: keep
    duration: 2
    text_in_prompt: keep
    prompt: 'A placard saying "NO MORE WAR" in a crowd'
  - id: plain
    duration: 2
    backend: hunyuanvideo
    prompt: "A fox crossing a frozen lake at dawn"
    camera: {movement: push in}
"""


@pytest.fixture()
def storyboard_path(tmp_path: Path) -> Path:
    path = tmp_path / "film.yaml"
    path.write_text(STORYBOARD)
    return path


def _by_id(results):
    return {result.id: result for result in results}


def test_overlay_mode_moves_text_to_a_whole_shot_caption(storyboard_path: Path) -> None:
    storyboard = load_storyboard(storyboard_path)
    results = _by_id(enhance_storyboard(storyboard))
    assert list(results) == ["banner", "sign", "strip", "keep", "plain"]
    banner = results["banner"]
    assert banner.extracted_text == ["HARBOR DAYS 2026"]
    assert "HARBOR DAYS" not in banner.enhanced and "reading" not in banner.enhanced
    assert banner.enhanced.startswith("Aerial view of a harbor, a blank banner between two cranes. ")
    added = overlays_for_shot(storyboard, storyboard.shot("banner"))
    assert [(o.text, o.style, o.start, o.end) for o in added] == [("HARBOR DAYS 2026", "caption", 0.0, 4.0)]
    assert banner.overlays == added


def test_no_caption_when_an_overlay_already_carries_the_text(storyboard_path: Path) -> None:
    storyboard = load_storyboard(storyboard_path)
    sign = storyboard.shot("sign")
    assert overlays_for_shot(storyboard, sign) == sign.overlays
    assert _by_id(enhance_storyboard(storyboard))["sign"].extracted_text == ["open late"]


DUPLICATES = """\
version: 1
title: Duplicates
shots:
  - id: stand
    duration: 8
    prompt: 'A dark title card over slow moving water, golden light, a logo titled "EASTERN SHIPYARD"'
    overlays:
      - {text: "Steel and Tide", style: title, start: 0.5, end: 7.0, position: center}
      - {text: "Eastern Shipyard · Hall 3, Stand 12", style: caption, start: 2.0, end: 7.5, position: bottom}
  - id: punctuation
    duration: 3
    prompt: 'A banner reading "Harbor-Days, 2026!" over the quay'
    overlays:
      - {text: "HARBOR DAYS 2026", style: title, start: 0.5, end: 2.5}
  - id: more
    duration: 3
    prompt: 'A banner reading "HARBOR DAYS 2026" over the quay'
    overlays:
      - {text: "Harbor Days", style: title, start: 0.5, end: 2.5}
  - id: part-of-a-word
    duration: 3
    prompt: 'A sign reading "SHIP" on a gate'
    overlays:
      - {text: "Eastern Shipyard", style: title, start: 0.5, end: 2.5}
"""


def test_text_an_overlay_already_says_is_not_drawn_twice(tmp_path: Path) -> None:
    path = tmp_path / "film.yaml"
    path.write_text(DUPLICATES, encoding="utf-8")
    storyboard = load_storyboard(path)
    results = _by_id(enhance_storyboard(storyboard))
    for shot_id in ("stand", "punctuation"):  # inside the overlay's words; case and punctuation aside
        shot = storyboard.shot(shot_id)
        assert overlays_for_shot(storyboard, shot) == shot.overlays == results[shot_id].overlays
        assert results[shot_id].extracted_text  # still reported as taken out of the prompt
    # An overlay saying less, or the text only inside one of its words: the caption is drawn.
    assert [o.text for o in overlays_for_shot(storyboard, storyboard.shot("more"))] == ["Harbor Days",
                                                                                       "HARBOR DAYS 2026"]
    assert [o.text for o in overlays_for_shot(storyboard, storyboard.shot("part-of-a-word"))] == ["Eastern Shipyard",
                                                                                                 "SHIP"]


def test_a_card_keeps_its_scene_when_its_text_is_taken_out(tmp_path: Path) -> None:
    path = tmp_path / "film.yaml"
    path.write_text(DUPLICATES, encoding="utf-8")
    stand = _by_id(enhance_storyboard(load_storyboard(path)))["stand"]
    assert stand.enhanced.startswith("A plain dark background over slow moving water, golden light, a plain logo.")
    assert "EASTERN" not in stand.enhanced.upper()


def test_strip_reports_and_keep_leaves_the_text(storyboard_path: Path) -> None:
    storyboard = load_storyboard(storyboard_path)
    results = _by_id(enhance_storyboard(storyboard))
    strip, keep = results["strip"], results["keep"]
    assert strip.extracted_text == keep.extracted_text == ["NO MORE WAR"]
    assert "NO MORE WAR" not in strip.enhanced and "text_in_prompt: strip" in strip.warnings[0]
    assert overlays_for_shot(storyboard, storyboard.shot("strip")) == ()
    assert 'A placard saying "NO MORE WAR" in a crowd.' in keep.enhanced and "keep" in keep.warnings[0]
    assert overlays_for_shot(storyboard, storyboard.shot("keep")) == ()


def test_style_camera_and_negative_follow_the_backend(storyboard_path: Path) -> None:
    storyboard = load_storyboard(storyboard_path)
    generic = _by_id(enhance_storyboard(storyboard, "auto"))["banner"]
    wan = _by_id(enhance_storyboard(storyboard, "wan2.2-t2v-a14b"))["banner"]
    assert generic.enhanced.endswith(
        "Wide shot, aerial view, slow push-in, 35mm wide-angle lens. Cinematic documentary, natural light.")
    assert wan.enhanced.endswith(
        "Wide shot, aerial shot, slow camera push-in, 35mm wide-angle lens. Cinematic documentary, natural light.")
    assert wan.negative.startswith("blurry, watermark, on-screen text")
    assert wan.negative.endswith(WAN_NEGATIVE_PROMPT)  # the official one, unchanged
    # backend None: each shot's own, here HunyuanVideo's camera-motion labels.
    assert _by_id(enhance_storyboard(storyboard))["plain"].enhanced == (
        "A fox crossing a frozen lake at dawn. Zoom in. Cinematic documentary, natural light.")


def test_unknown_backend_is_a_user_error(storyboard_path: Path) -> None:
    with pytest.raises(UserError, match="unknown backend 'wan'"):
        enhance_storyboard(load_storyboard(storyboard_path), "wan")


def test_results_are_deterministic(storyboard_path: Path) -> None:
    storyboard = load_storyboard(storyboard_path)
    first = [r.to_json() for r in enhance_storyboard(storyboard, "cogvideox-5b")]
    assert first == [r.to_json() for r in enhance_storyboard(load_storyboard(storyboard_path), "cogvideox-5b")]


@pytest.mark.parametrize("prompt, texts, cleaned", WITH_TEXT[:12])
def test_no_extracted_text_survives_enhancement(storyboard_path: Path, prompt: str, texts, cleaned) -> None:
    storyboard = load_storyboard(storyboard_path)
    from dataclasses import replace

    shot = replace(storyboard.shot("banner"), prompt=prompt)
    result = enhance_shot(storyboard, shot, "wan2.2-t2v-a14b", storyboard.base_dir / "models")
    assert result.extracted_text == texts
    assert result.enhanced.startswith(cleaned)
    for text in texts:
        assert text.casefold() not in result.enhanced.casefold()


def _long_prompt_storyboard(tmp_path: Path, words: int) -> Path:
    prompt = " ".join(["harbor"] * words)
    path = tmp_path / "long.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        title: Long
        shots:
          - {{id: s1, duration: 2, backend: cogvideox-5b, prompt: "{prompt}"}}
        """))
    return path


def test_long_prompt_warns_with_an_estimate(tmp_path: Path) -> None:
    storyboard = load_storyboard(_long_prompt_storyboard(tmp_path, 200))
    [result] = enhance_storyboard(storyboard, models_dir=tmp_path / "no-models")
    assert len(result.warnings) == 1
    assert "about " in result.warnings[0] and "reads 226" in result.warnings[0]
    [short] = enhance_storyboard(load_storyboard(_long_prompt_storyboard(tmp_path, 100)),
                                 models_dir=tmp_path / "no-models")
    assert short.warnings == []


def _word_tokenizer(folder: Path) -> None:
    """A real tokenizer folder (one token per word, plus end of text), written offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "</s>": 1, "harbor": 2, ".": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", eos_token="</s>").save_pretrained(folder)


@pytest.mark.needs("diffusion")  # transformers reads the tokenizer
def test_long_prompt_is_counted_with_the_real_tokenizer(tmp_path: Path) -> None:
    models = tmp_path / "models"
    _word_tokenizer(models / "CogVideoX-5b" / "tokenizer")
    # 226 words: the last one ends with "." (one more word-token) and the end-of-text token follows.
    [result] = enhance_storyboard(load_storyboard(_long_prompt_storyboard(tmp_path, 226)), models_dir=models)
    assert result.warnings == ["the prompt is 227 tokens but cogvideox-5b's T5-XXL text encoder reads 226; "
                               "the rest is cut off: shorten the prompt or the style"]
    [fits] = enhance_storyboard(load_storyboard(_long_prompt_storyboard(tmp_path, 225)), models_dir=models)
    assert fits.warnings == []


def test_rewriter_is_used_unless_it_brings_text_back(storyboard_path: Path) -> None:
    storyboard = load_storyboard(storyboard_path)
    calm = _by_id(enhance_storyboard(storyboard, "auto", rewriter=lambda p: "Dawn over a calm harbor"))["banner"]
    assert calm.enhanced.startswith("Dawn over a calm harbor. Wide shot")
    leaky = _by_id(enhance_storyboard(storyboard, "auto", rewriter=lambda p: 'A banner, "harbor days 2026"'))["banner"]
    assert leaky.enhanced.startswith("Aerial view of a harbor, a blank banner")
    assert "rewriter put" in leaky.warnings[0]


def test_cli_json_has_exactly_the_agreed_keys(storyboard_path: Path) -> None:
    result = CliRunner().invoke(app, ["prompts", str(storyboard_path), "--backend", "cogvideox-5b", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [item["id"] for item in payload] == ["banner", "sign", "strip", "keep", "plain"]
    assert all(set(item) == {"id", "original", "enhanced", "negative", "extracted_text", "warnings"} for item in payload)
    assert payload[0]["extracted_text"] == ["HARBOR DAYS 2026"]


def test_cli_table_and_user_errors(storyboard_path: Path, tmp_path: Path) -> None:
    table = CliRunner().invoke(app, ["prompts", str(storyboard_path)], env={"COLUMNS": "400"})
    assert table.exit_code == 0 and "HARBOR DAYS 2026" in table.stdout and "blank banner" in table.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntitle: Bad\nshots:\n  - {id: a, duration: -1, prompt: x}\n")
    result = CliRunner().invoke(app, ["prompts", str(bad)])
    assert result.exit_code == 2 and "duration" in result.stderr and "Traceback" not in result.output
    wrong = CliRunner().invoke(app, ["prompts", str(storyboard_path), "--backend", "sora"])
    assert wrong.exit_code == 2 and "unknown backend 'sora'" in wrong.stderr


@pytest.mark.parametrize("image_model, storyboard_backend", [("wan2.2-i2v-a14b", "wan2.2-t2v-a14b"),
                                                             ("cogvideox-5b-i2v", "cogvideox-5b")])
def test_an_image_to_video_twin_is_prompted_as_its_storyboard_backend(storyboard_path: Path, image_model: str,
                                                                       storyboard_backend: str) -> None:
    """The planner renders shots with `image` or `continue_from` through the image-to-video twin."""
    storyboard = load_storyboard(storyboard_path)
    shot = storyboard.shot("banner")
    twin = enhance_shot(storyboard, shot, image_model, storyboard_path.parent / "models")
    assert twin == enhance_shot(storyboard, shot, storyboard_backend, storyboard_path.parent / "models")
