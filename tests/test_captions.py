import pytest

from core.data.captions import (captions_for, display_name, load_templates, presets, resolve_class_names,
                           validate_template)
from core.errors import FlypError


def test_captions_are_built_from_templates():
    templates = load_templates("simple") + ["a {} in {{braces}}."]
    assert captions_for("tench", templates) == ["a photo of a tench.", "a tench in {braces}."]


def test_captions_say_an_before_a_vowel_sound():
    templates = ["a photo of a {}.", "A {} in {{braces}}.", "a bad photo of the {}.", "{} — a drawing"]
    assert captions_for("elephant", templates) == ["a photo of an elephant.", "An elephant in {braces}.",
                                                   "a bad photo of the elephant.", "elephant — a drawing"]
    assert captions_for("hour glass", templates[:1]) == ["a photo of an hour glass."]
    assert captions_for("unicorn", templates[:1]) == ["a photo of a unicorn."]
    assert captions_for("one", templates[:1]) == ["a photo of a one."]  # a digit's name: "a one", "an eight"
    assert captions_for("eight", templates[:1]) == ["a photo of an eight."]


def test_presets_include_the_80_openai_templates():
    assert len(presets()["openai-imagenet-80"]["templates"]) == 80
    for name, preset in presets().items():
        for t in preset["templates"]:
            validate_template(t, name)


@pytest.mark.parametrize("bad, words", [
    ("a photo", "no {} placeholder"),
    ("a {} and a {}", "2 placeholders"),
    ("a {classname}", "not {classname}"),
    ("a photo of a {:>5000000000}.", "bare {}, without a format spec"),  # gigabytes per caption
    ("a {:d}", "bare {}"),
    ("a {:{}}", "bare {}"),
    ("a {!x}", "bare {}"),
    ("a {0!r}", "bare {}"),
    ("a {", "stray brace"),
    ("  ", "empty"),
])
def test_bad_templates_get_a_clear_reason(bad, words):
    with pytest.raises(FlypError, match=words.replace("{", r"\{").replace("}", r"\}")):
        validate_template(bad)


def test_template_files_and_unknown_presets(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("# mine\na sketch of a {}.\n\na photo of a {}.\n")
    assert load_templates(str(f)) == ["a sketch of a {}.", "a photo of a {}."]
    f.write_text("a sketch\n")
    with pytest.raises(FlypError, match="t.txt: template 1"):
        load_templates(str(f))
    with pytest.raises(FlypError, match="neither a preset"):
        load_templates("no-such-preset")


def test_display_names_are_readable_and_editable():
    assert display_name("golden_retriever") == "golden retriever"
    assert display_name("03_cat") == "cat"
    assert display_name("n01440764") == "n01440764"
    assert resolve_class_names(["n01440764", "dog"], {"n01440764": "tench"}) == ["tench", "dog"]
    with pytest.raises(FlypError, match="no class name for captions"):
        resolve_class_names(["___"])
