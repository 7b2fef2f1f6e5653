"""Running `flyp` in-process in tests, and checking its one-line errors."""

from core.cli import main


def run_cli(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("flyp: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])


def two_photos_per_colour(colour_data, tmp_path):
    """Two validation photos of each colour of the `colour_data` fixture, copied into one folder."""
    import shutil

    folder = tmp_path / "photos"
    folder.mkdir()
    for colour in ("red", "green", "blue"):
        for src in sorted((colour_data["val"] / colour).glob("*.png"))[:2]:
            shutil.copy(src, folder / src.name)
    return sorted(folder.glob("*.png"))
